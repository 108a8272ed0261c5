export const EXECUTOR_CONFIG = Symbol('EXECUTOR_CONFIG');
