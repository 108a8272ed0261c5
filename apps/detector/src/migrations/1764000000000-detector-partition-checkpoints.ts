import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where each partition of the fleet stands in the health stream, so that the detector taking a
 * partition over (after a restart, or from a detector that died) knows which events its saved
 * state already holds and which it must read again.
 *
 * - `partition_checkpoints.snapshot_seq`: the saved heartbeat and rule state of the partition's
 *   instances reflects every health event up to this stream sequence, and none after.
 *   Keyed by the partition count too: after a change of count, old rows describe other partitions.
 * - `incident_causes`: the stream sequence of the health event behind each incident change,
 *   inserted in the change's own transaction, so a successor never repeats one. Append-only,
 *   so concurrent incident transactions of one partition never wait on each other for a shared
 *   row; rows at or before the partition's snapshot_seq no longer matter and are deleted with
 *   each snapshot.
 */
export class DetectorPartitionCheckpoints1764000000000 implements MigrationInterface {
  name = 'DetectorPartitionCheckpoints1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE detector.partition_checkpoints (
        partitions   int         NOT NULL CHECK (partitions > 0),
        partition    int         NOT NULL CHECK (partition >= 0 AND partition < partitions),
        snapshot_seq bigint      NOT NULL,
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (partitions, partition)
      )`);
    await q.query(`
      CREATE TABLE detector.incident_causes (
        partitions  int         NOT NULL,
        partition   int         NOT NULL,
        seq         bigint      NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX incident_causes_by_partition ON detector.incident_causes (partitions, partition, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE detector.incident_causes`);
    await q.query(`DROP TABLE detector.partition_checkpoints`);
  }
}
