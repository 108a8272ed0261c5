import { z } from 'zod';
import type { RemediationAction } from '@autoheal/contracts';
import type { DriverEffect, DriverResult } from '../remediation-driver.js';

/**
 * The annotation on the Deployment / StatefulSet that makes the Kubernetes driver idempotent and
 * serialises remediations of one workload without any state in the executor. It holds the
 * workload's recent remediations as JSON: while one is `acting` it holds a lease (other
 * callers wait for it), each mutation it makes is appended to its `effects` as soon as it is
 * made (so a retry after a crash resumes instead of acting twice), and once `done` the
 * outcome is kept for replay. Every write of it is conditioned on the workload's
 * resourceVersion, so two callers never both take the lease.
 */
export const REMEDIATIONS_ANNOTATION = 'autoheal.io/remediations';

/** Records kept per workload; the oldest finished ones go first. */
export const MAX_RECORDS = 20;

const effect = z.object({
  verb: z.enum(['restarted', 'started', 'stopped', 'scaled', 'rolled_back', 'promoted', 'routed', 'throttled', 'called', 'armed']),
  object: z.string(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

const outcome = z.union([
  z.object({ ok: z.literal(true), details: z.record(z.string(), z.unknown()) }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);

const record = z.object({
  id: z.string(),
  action: z.string(),
  phase: z.enum(['acting', 'done']),
  /** Which call holds the lease (a nonce per call): another call with the same id waits rather than acts. */
  holder: z.string(),
  /** While acting: until when the lease holds (ISO time); after it, a retry may take over and resume. */
  leaseUntil: z.string(),
  effects: z.array(effect),
  outcome: outcome.optional(),
});

export type RemediationRecord = z.infer<typeof record>;

/** The records an annotation holds; an unreadable annotation (edited by hand) counts as none rather than blocking the workload forever. */
export function readRecords(annotations: Record<string, string> | undefined): RemediationRecord[] {
  const raw = annotations?.[REMEDIATIONS_ANNOTATION];
  if (!raw) return [];
  try {
    const parsed = z.array(record).safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

/** The annotations with `next` in place of (or after) the record of the same id, bounded to MAX_RECORDS. */
export function withRecord(annotations: Record<string, string> | undefined, next: RemediationRecord): Record<string, string> {
  const others = readRecords(annotations).filter((r) => r.id !== next.id);
  const all = [...others, next];
  while (all.length > MAX_RECORDS) {
    const oldestDone = all.findIndex((r) => r.phase === 'done');
    all.splice(oldestDone >= 0 ? oldestDone : 0, 1);
  }
  return { ...annotations, [REMEDIATIONS_ANNOTATION]: JSON.stringify(all) };
}

/** The record of a remediation that holds the workload's lease at `now`, if any. */
export function leaseHolder(records: readonly RemediationRecord[], now: Date): RemediationRecord | undefined {
  return records.find((r) => r.phase === 'acting' && Date.parse(r.leaseUntil) > now.getTime());
}

export function newRecord(id: string, action: RemediationAction, holder: string, leaseUntil: Date, effects: DriverEffect[] = []): RemediationRecord {
  return { id, action, phase: 'acting', holder, leaseUntil: leaseUntil.toISOString(), effects };
}

/** What a finished record says when asked again: the first outcome, marked as replayed. */
export function replay(done: RemediationRecord): DriverResult {
  const first = done.outcome;
  if (!first) return { ok: false, error: { code: 'unknown_outcome', message: `remediation ${done.id} is recorded as done without an outcome` } };
  if (!first.ok) return { ok: false, error: first.error };
  return { ok: true, effects: done.effects, replayed: true, details: { ...first.details, replayed: true } };
}
