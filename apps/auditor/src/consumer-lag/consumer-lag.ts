/**
 * How far one of the auditor's durable consumers is behind its stream. Every event a stream
 * expires (max_age) before the auditor recorded it is lost to the audit trail, so the lag is
 * measured as time — the age of the oldest message not yet acknowledged — and compared with the
 * stream's max_age by the alert rules (deploy/prometheus).
 */
export interface ConsumerPosition {
  /** Messages not yet delivered. */
  numPending: number;
  /** Delivered, not yet acknowledged. */
  numAckPending: number;
  /** The stream sequence up to which every message is acknowledged. */
  ackFloorStreamSeq: number;
  /** The stream's first sequence still stored. */
  streamFirstSeq: number;
}

export interface ConsumerLag {
  /** Messages the consumer has not acknowledged yet. */
  unacknowledged: number;
  /** The sequence of the oldest of them; null when none waits. */
  oldestSeq: number | null;
}

/** Which message is the oldest the consumer still owes, from its position alone. */
export function consumerLag(p: ConsumerPosition): ConsumerLag {
  const unacknowledged = p.numPending + p.numAckPending;
  if (unacknowledged === 0) return { unacknowledged, oldestSeq: null };
  // Messages below the stream's first sequence are gone (expired or deleted): the oldest owed
  // that can still be read is the first one stored.
  return { unacknowledged, oldestSeq: Math.max(p.ackFloorStreamSeq + 1, p.streamFirstSeq) };
}

/** Seconds the oldest owed message has waited since the stream stored it; 0 when none waits. */
export function lagSeconds(now: Date, oldestStoredAt: Date | null): number {
  return oldestStoredAt === null ? 0 : Math.max(0, (now.getTime() - oldestStoredAt.getTime()) / 1000);
}
