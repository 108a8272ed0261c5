import { parseEnvelope, subjectFor, type Envelope, type EventType } from '@autoheal/contracts';
import type { IngestViolation } from './ingest.errors.js';

export const MAX_EVENTS_PER_REQUEST = 500;

export type HealthEvent = Extract<Envelope, { type: Extract<EventType, `health.${string}`> }>;

/** The events of a request body: `{ events: [...] }` or one envelope. `prefix` is their path in the body. */
export type SplitBody = { ok: true; items: unknown[]; prefix: (index: number) => string } | { ok: false; violation: IngestViolation };

export function splitBody(body: unknown): SplitBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, violation: { index: null, field: '(root)', message: 'body must be a JSON object: one event envelope or { "events": [...] }' } };
  }
  if (!('events' in body)) return { ok: true, items: [body], prefix: () => '' };
  const events = body.events;
  if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS_PER_REQUEST) {
    return { ok: false, violation: { index: null, field: 'events', message: `events must be an array of 1-${MAX_EVENTS_PER_REQUEST} event envelopes` } };
  }
  if (Object.keys(body).length > 1) {
    return { ok: false, violation: { index: null, field: '(root)', message: 'a batch body has no field besides events' } };
  }
  return { ok: true, items: events, prefix: (index) => `events.${index}.` };
}

export interface RejectedEvent {
  violation: IngestViolation;
  /** The event as received, for the dead-letter copy. */
  raw: unknown;
}

export interface ValidatedEvents {
  valid: { event: HealthEvent; subject: string }[];
  rejected: RejectedEvent[];
}

/**
 * Checks every event against the contracts and against the tenant the request was
 * authenticated for: only `health.*` types, and only the path's tenant (the subject is derived
 * from the event, so a matching tenant is what keeps a key inside its own subject space).
 */
export function validateHealthEvents(tenantId: string, split: Extract<SplitBody, { ok: true }>): ValidatedEvents {
  const out: ValidatedEvents = { valid: [], rejected: [] };
  split.items.forEach((raw, index) => {
    const reject = (field: string, message: string) => {
      const path = `${split.prefix(index)}${field}`;
      out.rejected.push({ raw, violation: { index, field: path, message: `${path}: ${message}` } });
    };
    const parsed = parseEnvelope(raw);
    if (!parsed.ok) {
      reject(parsed.error.field, parsed.error.message.slice(parsed.error.field.length + 2));
      return;
    }
    const event = parsed.value;
    if (!isHealthEvent(event)) {
      reject('type', `only health.* events are accepted here, got ${event.type}`);
      return;
    }
    if (event.tenantId !== tenantId) {
      reject('tenantId', `must be the tenant of the request path (${tenantId}), got ${event.tenantId}`);
      return;
    }
    out.valid.push({ event, subject: subjectFor(event) });
  });
  return out;
}

function isHealthEvent(event: Envelope): event is HealthEvent {
  return event.type.startsWith('health.');
}
