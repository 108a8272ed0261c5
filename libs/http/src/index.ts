export * from './validation-pipe.js';
export * from './token-bucket.js';
export * from './refusal-hold.js';
export * from './http-host.js';
