export * from './logger.js';
export * from './pino-nest.logger.js';
export * from './tracer.js';
export * from './metrics.js';
export * from './health-check.registry.js';
export * from './observability.module.js';
export * from './trace-file.exporter.js';
export * from './database-spans.js';
