export const DETECTOR_CONFIG = Symbol('DETECTOR_CONFIG');
/** The validated rules file (per-tenant rule overrides, maintenance windows), or undefined for defaults. */
export const RULES_FILE = Symbol('RULES_FILE');
