import type { EntityManager } from 'typeorm';
import type { PublicKeyRecord, SignedPoint, Tombstone } from '@autoheal/evidence';

interface PointRecord {
  tenant_id: string;
  /** Seals only: the first seq of the seal's range (null: a v1 seal of one row). */
  from_seq?: string | null;
  seq: string;
  head_hash: string;
  signed_at: Date;
  key_id: string;
  signature: string;
}

interface TombstoneRecord {
  tenant_id: string;
  from_seq: string;
  to_seq: string;
  hash_before: string;
  hash_after: string;
  manifest_sha256: string;
  partition_name: string;
  signed_at: Date;
  key_id: string;
  signature: string;
}

const toTombstone = (r: TombstoneRecord): Tombstone => ({
  tenantId: r.tenant_id,
  fromSeq: Number(r.from_seq),
  toSeq: Number(r.to_seq),
  hashBefore: r.hash_before,
  hashAfter: r.hash_after,
  manifestSha256: r.manifest_sha256,
  partition: r.partition_name,
  signedAt: r.signed_at.toISOString(),
  keyId: r.key_id,
  signature: r.signature,
});

const POINT_COLUMNS = 'tenant_id, seq, head_hash, signed_at, key_id, signature';

export function toPoint(r: PointRecord): SignedPoint {
  return {
    tenantId: r.tenant_id,
    ...(r.from_seq === undefined || r.from_seq === null ? {} : { fromSeq: Number(r.from_seq) }),
    seq: Number(r.seq),
    headHash: r.head_hash,
    signedAt: r.signed_at.toISOString(),
    keyId: r.key_id,
    signature: r.signature,
  };
}

const SEAL_COLUMNS = `from_seq, ${POINT_COLUMNS}`;

const params = (p: SignedPoint) => [p.tenantId, p.seq, p.headHash, p.signedAt, p.keyId, p.signature];

/** The only SQL of seals, checkpoints and the key history. Every function runs in the caller's transaction. */
export const signedPointsRepository = {
  /** Many seals in one statement (those of one append batch: one per tenant, over the rows appended for it). */
  async insertSeals(manager: EntityManager, seals: readonly SignedPoint[]): Promise<void> {
    if (seals.length === 0) return;
    const column = <K extends keyof SignedPoint>(k: K) => seals.map((p) => p[k] ?? null);
    await manager.query(
      `INSERT INTO auditor.audit_seals (${SEAL_COLUMNS})
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])`,
      [column('fromSeq'), column('tenantId'), column('seq'), column('headHash'), column('signedAt'), column('keyId'), column('signature')],
    );
  },

  /** False when the tenant has a checkpoint at that seq already (another replica made it). */
  async insertCheckpoint(manager: EntityManager, checkpoint: SignedPoint): Promise<boolean> {
    const inserted: unknown[] = await manager.query(
      `INSERT INTO auditor.checkpoints (${POINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, seq) DO NOTHING RETURNING seq`,
      params(checkpoint),
    );
    return inserted.length === 1;
  },

  async latestCheckpoint(manager: EntityManager, tenantId: string): Promise<SignedPoint | null> {
    const rows: PointRecord[] = await manager.query(`SELECT ${POINT_COLUMNS} FROM auditor.checkpoints WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`, [tenantId]);
    return rows.length === 0 ? null : toPoint(rows[0]);
  },

  async checkpointAt(manager: EntityManager, tenantId: string, seq: number): Promise<SignedPoint | null> {
    const rows: PointRecord[] = await manager.query(`SELECT ${POINT_COLUMNS} FROM auditor.checkpoints WHERE tenant_id = $1 AND seq = $2`, [tenantId, seq]);
    return rows.length === 0 ? null : toPoint(rows[0]);
  },

  /** The tenant's checkpoints with seq > afterSeq, ascending (one per cadence: few next to the rows). */
  async checkpointsAfter(manager: EntityManager, tenantId: string, afterSeq: number): Promise<SignedPoint[]> {
    const rows: PointRecord[] = await manager.query(`SELECT ${POINT_COLUMNS} FROM auditor.checkpoints WHERE tenant_id = $1 AND seq > $2 ORDER BY seq`, [tenantId, afterSeq]);
    return rows.map(toPoint);
  },

  /** The seq of the tenant's first checkpoint, or null. */
  async firstCheckpointSeq(manager: EntityManager, tenantId: string): Promise<number | null> {
    const rows: { seq: string }[] = await manager.query(`SELECT seq FROM auditor.checkpoints WHERE tenant_id = $1 ORDER BY seq LIMIT 1`, [tenantId]);
    return rows.length === 0 ? null : Number(rows[0].seq);
  },

  /** The seq of the tenant's first sealed row (the start of its first seal's range), or null. */
  async firstSealedSeq(manager: EntityManager, tenantId: string): Promise<number | null> {
    const rows: { seq: string }[] = await manager.query(
      `SELECT coalesce(from_seq, seq) AS seq FROM auditor.audit_seals WHERE tenant_id = $1 ORDER BY seq LIMIT 1`,
      [tenantId],
    );
    return rows.length === 0 ? null : Number(rows[0].seq);
  },

  /** The seals stored at seqs fromSeq..toSeq (each at the last row of its range). */
  async sealsBetween(manager: EntityManager, tenantId: string, fromSeq: number, toSeq: number): Promise<SignedPoint[]> {
    const rows: PointRecord[] = await manager.query(`SELECT ${SEAL_COLUMNS} FROM auditor.audit_seals WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`, [
      tenantId,
      fromSeq,
      toSeq,
    ]);
    return rows.map(toPoint);
  },

  /** Records a public key the first time it signs; true when it was new. */
  async recordKey(manager: EntityManager, key: PublicKeyRecord): Promise<boolean> {
    const inserted: unknown[] = await manager.query(
      `INSERT INTO auditor.signing_keys (key_id, public_key, first_used_at) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING RETURNING key_id`,
      [key.keyId, key.publicKey, key.firstUsedAt],
    );
    return inserted.length === 1;
  },

  /** The tenant's tombstones (ranges archived and dropped), ascending. */
  async tombstones(manager: EntityManager, tenantId: string): Promise<Tombstone[]> {
    const rows: TombstoneRecord[] = await manager.query(`SELECT * FROM auditor.audit_tombstones WHERE tenant_id = $1 ORDER BY from_seq`, [tenantId]);
    return rows.map(toTombstone);
  },

  async keys(manager: EntityManager): Promise<PublicKeyRecord[]> {
    const rows: { key_id: string; public_key: string; first_used_at: Date }[] = await manager.query(
      `SELECT key_id, public_key, first_used_at FROM auditor.signing_keys ORDER BY first_used_at, key_id`,
    );
    return rows.map((r) => ({ keyId: r.key_id, publicKey: r.public_key, firstUsedAt: r.first_used_at.toISOString() }));
  },
};
