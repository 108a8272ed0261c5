export const AUDITOR_CONFIG = Symbol('AUDITOR_CONFIG');
/** The payload field names stripped before a row is hashed (a ReadonlySet from redactionSet()). */
export const AUDIT_REDACTION = Symbol('AUDIT_REDACTION');
