/** Tenant documents to seed at boot (from DECISION_TENANTS_DIR or the legacy tenants file). */
export const BOOT_TENANT_DOCUMENTS = Symbol('BOOT_TENANT_DOCUMENTS');
/** The validated configuration. */
export const DECISION_CONFIG = Symbol('DECISION_CONFIG');
/** Resolves a webhook target's secretRef to its HMAC secret. */
export const SECRET_RESOLVER = Symbol('SECRET_RESOLVER');
