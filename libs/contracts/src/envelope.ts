import { z } from 'zod';
import { EVENT_CATALOG, EVENT_TYPES, isSystemEventType, type EventData, type EventType } from './event-types.js';
import { subjectToken, SYSTEM_TENANT_ID } from './subject-token.js';
import { newEventId } from './event-id.js';
import { compileFastCheck, type FastCheck } from './fast-check.js';

const envelopeFields = {
  id: z.uuid(),
  tenantId: subjectToken,
  occurredAt: z.iso.datetime(),
  producer: z.string().min(1).max(200),
  correlationId: z.string().min(1).max(200).nullable(),
  causationId: z.string().min(1).max(200).nullable(),
};

function envelopeFor<T extends EventType>(type: T) {
  const entry = EVENT_CATALOG[type];
  return z
    .object({
      ...envelopeFields,
      // A system event belongs to no tenant, and no tenant's event to the system.
      tenantId: isSystemEventType(type) ? z.literal(SYSTEM_TENANT_ID) : subjectToken,
      type: z.literal(type),
      version: z.literal(entry.version),
      data: entry.data,
    })
    .strict();
}

const envelopeSchemas = EVENT_TYPES.map((type) => envelopeFor(type)) as [
  ReturnType<typeof envelopeFor>,
  ...ReturnType<typeof envelopeFor>[],
];

/** The one envelope every event travels in; `data` is checked against the schema of `type`. */
export const eventEnvelope = z.discriminatedUnion('type', envelopeSchemas);

export type Envelope<T extends EventType = EventType> = {
  [K in T]: {
    id: string;
    type: K;
    version: number;
    tenantId: string;
    occurredAt: string;
    producer: string;
    correlationId: string | null;
    causationId: string | null;
    data: EventData<K>;
  };
}[T];

export interface ContractViolation {
  /** Dotted path of the first offending field, e.g. `data.intervalMs`. */
  field: string;
  message: string;
  issues: { path: string; message: string }[];
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ContractViolation };

/**
 * One compiled check per event type (see fast-check.ts), null for a type whose schema is
 * outside the compiled subset: that type is always checked by zod.
 */
const fastChecks = new Map<string, FastCheck | null>(EVENT_TYPES.map((type, i) => [type, compileFastCheck(envelopeSchemas[i])]));

/**
 * Validates an envelope. A value the compiled check accepts is returned as it is (zod would
 * have accepted it and returned an equal copy); anything else goes to zod, whose verdict and
 * issues are the answer. So the accepted set and every error message are zod's.
 */
export function parseEnvelope(raw: unknown): ParseResult<Envelope> {
  if (typeof raw === 'object' && raw !== null) {
    const check = fastChecks.get((raw as { type?: unknown }).type as string);
    if (check?.(raw)) return { ok: true, value: raw as Envelope };
  }
  return parseWithZod(raw);
}

/** zod's verdict, with the issues flattened into paths; the value it returns is a copy. */
function parseWithZod(raw: unknown): ParseResult<Envelope> {
  const result = eventEnvelope.safeParse(raw);
  if (result.success) return { ok: true, value: result.data as Envelope };
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  const first = issues[0];
  return {
    ok: false,
    error: { field: first.path, message: `${first.path}: ${first.message}`, issues },
  };
}

export interface NewEventInput<T extends EventType> {
  tenantId: string;
  producer: string;
  data: EventData<T>;
  correlationId?: string | null;
  causationId?: string | null;
  occurredAt?: Date;
}

/** Builds a valid envelope or throws: producers inside the repo never publish what consumers would reject. */
export function newEvent<T extends EventType>(type: T, input: NewEventInput<T>): Envelope<T> {
  const occurredAt = input.occurredAt ?? new Date();
  const candidate = {
    id: newEventId(occurredAt.getTime()),
    type,
    version: EVENT_CATALOG[type].version,
    tenantId: input.tenantId,
    occurredAt: occurredAt.toISOString(),
    producer: input.producer,
    correlationId: input.correlationId ?? null,
    causationId: input.causationId ?? null,
    data: input.data,
  };
  // zod here, not the compiled check: the event must not share `data` with the caller's input.
  const parsed = parseWithZod(candidate);
  if (!parsed.ok) throw new Error(`refusing to build invalid ${type} event: ${parsed.error.message}`);
  return parsed.value as Envelope<T>;
}

/** The member of the envelope union with this type. */
export type EventOf<T extends EventType> = Extract<Envelope, { type: T }>;

/** Narrows an envelope to one type (e.g. to filter what a stream holds). */
export function isEvent<T extends EventType>(event: Envelope, type: T): event is EventOf<T> {
  return event.type === type;
}
