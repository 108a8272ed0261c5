export * from './schema-name.js';
export * from './data-source.js';
export * from './run-migrations.js';
export * from './outbox-inbox.migration.js';
export * from './outbox.js';
export * from './inbox.js';
export * from './outbox-relay.js';
export * from './persistence.module.js';
