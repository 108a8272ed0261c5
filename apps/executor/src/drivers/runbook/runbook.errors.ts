/** Failures the runbook driver reports itself (a runbook's own refusals carry the runbook's codes). */
export enum RunbookFailure {
  /** The executor holds no secret of the name the target's `secretRef` gives: nothing was sent. */
  SecretMissing = 'runbook_secret_missing',
  /** The secret is not `whsec_` + base64 of 24 to 64 bytes: nothing was sent. */
  SecretInvalid = 'runbook_secret_invalid',
  /** An answer or callback not signed by the runbook's secret: never counted as success. */
  Unattributed = 'unattributed_reply',
}
