export * from './free-port.js';
export * from './expect-eventually.js';
export * from './nats-server.js';
export * from './test-database.js';
export * from './read-stream.js';
export * from './test-keys.js';
export * from './http-probes.js';
