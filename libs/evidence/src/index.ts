export * from './row-hash.js';
export * from './signed-point.js';
export * from './chain.js';
export * from './bundle.js';
export * from './bundle-files.js';
export * from './report-signature.js';
export * from './tombstone.js';
