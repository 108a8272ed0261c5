import { isSystemEventType, type EventType } from './event-types.js';
import type { Envelope } from './envelope.js';
import { assertSubjectToken, SUBJECT_TOKEN_PATTERN, SYSTEM_TENANT_ID } from './subject-token.js';

/** The JetStream streams and the subjects each one captures. */
export const STREAMS = {
  health: { name: 'HEALTH', subjects: ['health.>'] },
  incidents: { name: 'INCIDENTS', subjects: ['incident.>'] },
  remediations: { name: 'REMEDIATIONS', subjects: ['remediation.>'] },
  compliance: { name: 'COMPLIANCE', subjects: ['compliance.>'] },
  security: { name: 'SECURITY', subjects: ['security.>'] },
  deadLetter: { name: 'DEAD_LETTER', subjects: ['deadletter.>'] },
  /**
   * The auditor's signed checkpoints, where the database cannot rewrite them: created with
   * deny_delete and deny_purge, no age or size limit, and never updated (libs/messaging).
   */
  checkpoints: { name: 'AUDIT_CHECKPOINTS', subjects: ['checkpoint.>'] },
} as const;

/** `checkpoint.tenant.<tenant>`: the auditor's signed checkpoints of one tenant's chain (the system trail's too). */
export function checkpointSubject(tenantId: string): string {
  return `checkpoint.tenant.${tenantId === SYSTEM_TENANT_ID ? tenantId : assertSubjectToken('tenantId', tenantId)}`;
}

/** `checkpoint.key.<key id>`: a public key the auditor signs checkpoints and seals with, announced once. */
export function checkpointKeySubject(keyId: string): string {
  if (!/^ed25519:[A-Za-z0-9_-]{1,64}$/.test(keyId)) throw new Error(`not a key id: ${JSON.stringify(keyId)}`);
  return `checkpoint.key.${keyId}`;
}

export type StreamKey = keyof typeof STREAMS;

export function healthSubject(tenantId: string, service: string, instance: string): string {
  return `health.${assertSubjectToken('tenantId', tenantId)}.${assertSubjectToken('service', service)}.${assertSubjectToken('instance', instance)}`;
}

export interface HealthSubjectParts {
  tenantId: string;
  service: string;
  instance: string;
}

/** Parses `health.<tenant>.<service>.<instance>`; null when the subject is not one. */
export function parseHealthSubject(subject: string): HealthSubjectParts | null {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'health') return null;
  const [, tenantId, service, instance] = parts;
  if (![tenantId, service, instance].every((t) => SUBJECT_TOKEN_PATTERN.test(t))) return null;
  return { tenantId, service, instance };
}

/** `incident.<tenant>.<opened|updated|resolved>`, `remediation.<tenant>.<event>`, `compliance.<tenant>.<event>`, `security.<tenant>.<event>`. */
export function domainSubject(type: Exclude<EventType, `health.${string}`>, tenantId: string): string {
  const [domain, name] = type.split('.');
  // A system event's subject carries SYSTEM_TENANT_ID, which no tenant token can equal.
  if (isSystemEventType(type)) return `${domain}.${SYSTEM_TENANT_ID}.${name}`;
  return `${domain}.${assertSubjectToken('tenantId', tenantId)}.${name}`;
}

export interface DomainSubjectParts {
  domain: string;
  tenantId: string;
  name: string;
}

export function parseDomainSubject(subject: string): DomainSubjectParts | null {
  const parts = subject.split('.');
  if (parts.length !== 3) return null;
  const [domain, tenantId, name] = parts;
  if (!(SUBJECT_TOKEN_PATTERN.test(tenantId) || tenantId === SYSTEM_TENANT_ID) || !/^[a-z_]+$/.test(name)) return null;
  return { domain, tenantId, name };
}

/** The tenant an event subject belongs to: its second token (`health.<tenant>.…`, `incident.<tenant>.…`, or SYSTEM_TENANT_ID). */
export function subjectTenant(subject: string): string {
  const tenantId = subject.split('.')[1] ?? '';
  if (tenantId === SYSTEM_TENANT_ID) return tenantId;
  return assertSubjectToken('tenantId', tenantId);
}

/** The subject an event is published on, derived from its type, tenant and (for health) target. */
export function subjectFor(event: Envelope): string {
  switch (event.type) {
    case 'health.heartbeat':
    case 'health.stopping':
    case 'health.metrics':
    case 'health.exited':
    case 'health.alert':
      return healthSubject(event.tenantId, event.data.service, event.data.instance);
    default:
      return domainSubject(event.type, event.tenantId);
  }
}

/**
 * Checks that an envelope belongs on the subject it arrived on, so that a producer cannot
 * write tenant B's event onto tenant A's subject. Returns a reason when it does not.
 */
export function subjectMismatch(subject: string, event: Envelope): string | null {
  const expected = subjectFor(event);
  return expected === subject ? null : `subject ${subject} does not match event (expected ${expected})`;
}

/** Request/reply subject on which the agent supervising an instance takes a command (any remediation action). */
export function agentCommandSubject(tenantId: string, service: string, instance: string): string {
  return `agent.command.${assertSubjectToken('tenantId', tenantId)}.${assertSubjectToken('service', service)}.${assertSubjectToken('instance', instance)}`;
}

export const AGENT_COMMAND_WILDCARD = 'agent.command.>';
export const AGENT_STATUS_SUBJECT = 'agent.status';

/**
 * Stands for the tenant in a dead letter's subject when none can be read from the message (a
 * subject without a valid tenant token). It is not a valid subject token itself (see
 * SUBJECT_TOKEN_PATTERN), so no tenant can share it.
 */
export const DEAD_LETTER_NO_TENANT = '~none';

/**
 * `deadletter.<stream>.<consumer>.<tenant>`: one subject per consumer and tenant, so that the
 * stream's per-subject limits bound each tenant's share of the dead letters (see
 * libs/messaging's dead-letter.ts). `tenantId` null (or not a valid token): DEAD_LETTER_NO_TENANT.
 */
export function deadLetterSubject(stream: string, consumer: string, tenantId: string | null): string {
  const tenant = tenantId !== null && SUBJECT_TOKEN_PATTERN.test(tenantId) ? tenantId : DEAD_LETTER_NO_TENANT;
  return `deadletter.${assertSubjectToken('stream', stream)}.${assertSubjectToken('consumer', consumer)}.${tenant}`;
}

/** The tenant token of an event subject (`health.<tenant>.…`, `incident.<tenant>.…`), or null when it has none. */
export function subjectTenantOrNull(subject: string): string | null {
  const token = subject.split('.')[1];
  return token !== undefined && SUBJECT_TOKEN_PATTERN.test(token) ? token : null;
}
