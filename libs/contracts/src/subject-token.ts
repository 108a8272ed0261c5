import { z } from 'zod';

/**
 * One token of a NATS subject (tenant, service, instance). Dots would split the token,
 * `*` and `>` are wildcards and whitespace is illegal in a subject, so a token is limited
 * to letters, digits, `_` and `-`. Anything else would let a producer publish into
 * another tenant's subject space.
 */
export const SUBJECT_TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const subjectToken = z
  .string()
  .regex(SUBJECT_TOKEN_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ - (no dots, spaces or wildcards)');

export class InvalidSubjectTokenError extends Error {
  constructor(
    readonly field: string,
    readonly value: string,
  ) {
    super(`invalid ${field} ${JSON.stringify(value)}: must be 1-64 characters of A-Z a-z 0-9 _ - (no dots, spaces or wildcards)`);
    this.name = 'InvalidSubjectTokenError';
  }
}

export function assertSubjectToken(field: string, value: string): string {
  if (typeof value !== 'string' || !SUBJECT_TOKEN_PATTERN.test(value)) {
    throw new InvalidSubjectTokenError(field, String(value));
  }
  return value;
}

/**
 * The tenant of what belongs to no tenant: the system audit trail, and the events bound for it
 * (`security.@system.access_refused`). `@` is outside SUBJECT_TOKEN_PATTERN, so no tenant id,
 * tenant subject or tenant's trail can ever be this one.
 */
export const SYSTEM_TENANT_ID = '@system';
