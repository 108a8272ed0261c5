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
