import type { Principal } from '@autoheal/access';

/**
 * Who a request authenticated as: a person's API key, a bootstrap key from the environment, or an
 * OIDC token (see @autoheal/access). `id` names the credential (the audit actor of reads),
 * `subject` the person.
 */
export type ApiKeyPrincipal = Principal;

/** Kept here for the audit trail's callers: the derivation itself lives in @autoheal/access. */
export { apiKeyId, hashApiKey } from '@autoheal/access';
