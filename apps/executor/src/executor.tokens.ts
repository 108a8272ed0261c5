export const EXECUTOR_CONFIG = Symbol('EXECUTOR_CONFIG');
export const SECRET_RESOLVER = Symbol('SECRET_RESOLVER');
