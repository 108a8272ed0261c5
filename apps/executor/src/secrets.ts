/**
 * Looks a secret up by the name a tenant's inventory gives (`secretRef`); undefined when the
 * executor holds none of that name. Secret values never travel in plans, events or the audit
 * trail: only their names do.
 */
export type SecretResolver = (name: string) => string | undefined;

/** Production: the secret named `ACME_RUNBOOK_SECRET` is the environment variable of that name. */
export const envSecretResolver: SecretResolver = (name) => process.env[name];
