export const AUDITOR_CONFIG = Symbol('AUDITOR_CONFIG');
