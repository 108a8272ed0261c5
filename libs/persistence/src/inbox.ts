import type { EntityManager } from 'typeorm';
import { assertSchemaName } from './schema-name.js';
import { assertInTransaction } from './transaction-guard.js';

/**
 * Records that `consumer` processed `eventId`, in the caller's transaction. True the first
 * time; false when the event was already processed (the caller then skips its effect). A
 * concurrent claim of the same event waits on the primary key until the first transaction
 * ends: false if it committed, true if it rolled back. So the effect happens once.
 */
export async function claimInbox(manager: EntityManager, schema: string, consumer: string, eventId: string): Promise<boolean> {
  const s = assertSchemaName(schema);
  assertInTransaction(manager, 'claimInbox');
  const rows: unknown[] = await manager.query(
    `INSERT INTO "${s}".inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id`,
    [consumer, eventId],
  );
  return rows.length === 1;
}

/** One event a consumer claims: `consumer` processed `eventId`. */
export interface InboxClaim {
  consumer: string;
  eventId: string;
}

/**
 * claimInbox for many events in one statement, in the caller's transaction: for each claim in
 * `claims`, true when this transaction claimed it first (the caller applies its effect), false
 * when it was processed before or appears earlier in `claims`. Rows are inserted in key order, so
 * two transactions claiming overlapping sets wait for each other instead of deadlocking.
 */
export async function claimInboxBatch(manager: EntityManager, schema: string, claims: readonly InboxClaim[]): Promise<boolean[]> {
  const s = assertSchemaName(schema);
  assertInTransaction(manager, 'claimInboxBatch');
  if (claims.length === 0) return [];
  const rows: { consumer: string; event_id: string }[] = await manager.query(
    `INSERT INTO "${s}".inbox (consumer, event_id)
     SELECT DISTINCT c.consumer, c.event_id FROM unnest($1::text[], $2::text[]) AS c(consumer, event_id) ORDER BY 1, 2
     ON CONFLICT DO NOTHING RETURNING consumer, event_id`,
    [claims.map((c) => c.consumer), claims.map((c) => c.eventId)],
  );
  const won = new Set(rows.map((r) => JSON.stringify([r.consumer, r.event_id])));
  // The first of equal claims gets the effect; a repeat in the same batch is a duplicate.
  return claims.map((c) => won.delete(JSON.stringify([c.consumer, c.eventId])));
}
