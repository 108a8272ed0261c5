import type { EntityManager } from 'typeorm';
import { preparedStatement, queryPrepared } from '@autoheal/persistence';

/** Written in the transaction of every incident change the live consumer causes: prepared once per connection. */
const RECORD_CAUSE = preparedStatement('detector_incident_cause', `INSERT INTO detector.incident_causes (partitions, partition, seq) VALUES ($1, $2, $3)`);

/** Where a partition stands in the health stream (see the partition_checkpoints migration). */
export interface PartitionCheckpoint {
  partition: number;
  /** Saved instance state holds every health event of the partition up to this stream sequence. */
  snapshotSeq: number;
  /** Incident changes caused by health events up to this sequence are committed. */
  commandSeq: number;
}

export const partitionCheckpointsRepository = {
  async load(m: EntityManager, partitions: number, of: readonly number[]): Promise<Map<number, PartitionCheckpoint>> {
    const out = new Map<number, PartitionCheckpoint>();
    if (of.length === 0) return out;
    const rows: { partition: number; snapshot_seq: string | null; command_seq: string | null }[] = await m.query(
      `SELECT p AS partition,
              (SELECT snapshot_seq FROM detector.partition_checkpoints c WHERE c.partitions = $1 AND c.partition = p) AS snapshot_seq,
              (SELECT max(seq) FROM detector.incident_causes i WHERE i.partitions = $1 AND i.partition = p) AS command_seq
         FROM unnest($2::int[]) AS u(p)`,
      [partitions, of],
    );
    for (const r of rows) out.set(r.partition, { partition: r.partition, snapshotSeq: Number(r.snapshot_seq ?? 0), commandSeq: Number(r.command_seq ?? 0) });
    return out;
  },

  /**
   * Never moves a checkpoint back: a late writer (a detector that just lost the partition)
   * cannot undo a newer one. Incident causes at or before it no longer matter: a takeover
   * reads only the events after it.
   */
  async saveSnapshotSeq(m: EntityManager, partitions: number, of: readonly number[], seq: number): Promise<void> {
    if (of.length === 0) return;
    await m.query(
      `INSERT INTO detector.partition_checkpoints (partitions, partition, snapshot_seq, updated_at)
       SELECT $1, p, $3, now() FROM unnest($2::int[]) AS u(p)
       ON CONFLICT (partitions, partition) DO UPDATE
         SET snapshot_seq = GREATEST(detector.partition_checkpoints.snapshot_seq, EXCLUDED.snapshot_seq), updated_at = now()`,
      [partitions, of, seq],
    );
    await m.query(`DELETE FROM detector.incident_causes WHERE partitions = $1 AND partition = ANY($2::int[]) AND seq <= $3`, [partitions, of, seq]);
  },

  /** In the transaction of an incident change caused by the health event at `seq`: an insert, so changes never wait on each other. */
  async recordIncidentCause(m: EntityManager, partitions: number, partition: number, seq: number): Promise<void> {
    await queryPrepared(m, RECORD_CAUSE, [partitions, partition, seq]);
  },
};
