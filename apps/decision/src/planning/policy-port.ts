/**
 * The one place the service reaches the pure policy core (../policy): everything else in the
 * service imports the policy from here, so the core can change shape behind a single file.
 */
export {
  diffDocuments,
  documentVersion,
  effectiveProfile,
  evaluatePolicy,
  GuardrailRule,
  NO_POLICY_VERSION,
  parseDocumentText,
  formatOf,
  breakerTrips,
  mightTripBreaker,
  shouldTripBreaker,
  tenantDocumentSchema,
  thresholdSources,
  validateTenantDocuments,
  withIncident,
  type BreakerCounts,
  type BreakerOptions,
  type DocumentChange,
  type Explanation,
  type Framework,
  type PolicyDecision,
  type PolicyInput,
  type ProfileThresholds,
  type TenantDocument,
} from '../policy/index.js';
