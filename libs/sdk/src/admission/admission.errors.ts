import type { FieldIssue } from './throttle.schema.js';

/**
 * A throttle that cannot be applied; nothing was changed. `field` names the first offending field
 * (`limitPerSecond`, `expiresAt`, …) and the message lists every issue as `field: message`.
 */
export class InvalidThrottleError extends Error {
  readonly code = 'invalid_throttle';
  readonly field: string;

  constructor(readonly issues: readonly FieldIssue[]) {
    super(issues.map((issue) => `${issue.field}: ${issue.message}`).join('; '));
    this.name = 'InvalidThrottleError';
    this.field = issues[0]?.field ?? '(throttle)';
  }
}
