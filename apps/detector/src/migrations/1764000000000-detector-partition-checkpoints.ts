import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where each partition of the fleet stands in the health stream, so that the detector taking a
 * partition over (after a restart, or from a detector that died) knows which events its saved
 * state already holds and which it must read again.
 *
 * - `snapshot_seq`: the saved heartbeat and rule state of the partition's instances reflects
 *   every health event up to this stream sequence, and none after.
 * - `command_seq`: incident changes caused by health events up to this sequence are committed;
 *   written in the same transaction as the change, so a successor never repeats one.
 *
 * Keyed by the partition count too: after a change of count, old rows describe other partitions.
 */
export class DetectorPartitionCheckpoints1764000000000 implements MigrationInterface {
  name = 'DetectorPartitionCheckpoints1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE detector.partition_checkpoints (
        partitions   int         NOT NULL CHECK (partitions > 0),
        partition    int         NOT NULL CHECK (partition >= 0 AND partition < partitions),
        snapshot_seq bigint      NOT NULL DEFAULT 0,
        command_seq  bigint      NOT NULL DEFAULT 0,
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (partitions, partition)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE detector.partition_checkpoints`);
  }
}
