/** The tenant profiles read from the tenants file at boot. */
export const TENANT_PROFILES = Symbol('TENANT_PROFILES');
