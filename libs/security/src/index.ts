export * from './security.errors.js';
export * from './keys.js';
export * from './trust-store.js';
export * from './provenance.js';
export * from './commands.js';
export * from './dev-keys.js';
export * from './signing-env.js';
