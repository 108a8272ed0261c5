export * from './access.errors.js';
export * from './principal.js';
export * from './permissions.js';
export * from './bearer.js';
export * from './api-key.js';
export * from './oidc.js';
export * from './authenticator.js';
export * from './refusal-tally.js';
