import type { EntityManager } from 'typeorm';
import type { InstanceState, TrackedInstance } from '../heartbeat/heartbeat-tracker.js';

/** Detector state snapshots: written in batches, read once at boot. */
export const instanceSnapshotsRepository = {
  async upsertMany(m: EntityManager, instances: TrackedInstance[]): Promise<void> {
    if (instances.length === 0) return;
    await m.query(
      `INSERT INTO detector.instance_snapshots (tenant_id, service, instance, interval_ms, last_seen_at, state, updated_at)
       SELECT t, s, i, iv, to_timestamp(ls / 1000.0), st, now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[], $6::text[]) AS u(t, s, i, iv, ls, st)
       ON CONFLICT (tenant_id, service, instance) DO UPDATE
         SET interval_ms = EXCLUDED.interval_ms, last_seen_at = EXCLUDED.last_seen_at,
             state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
      [
        instances.map((x) => x.tenantId),
        instances.map((x) => x.service),
        instances.map((x) => x.instance),
        instances.map((x) => x.intervalMs),
        instances.map((x) => x.lastSeenAt),
        instances.map((x) => x.state),
      ],
    );
  },

  async loadAll(m: EntityManager): Promise<TrackedInstance[]> {
    const rows: { tenant_id: string; service: string; instance: string; interval_ms: number; last_seen_at: Date; state: InstanceState }[] =
      await m.query(`SELECT tenant_id, service, instance, interval_ms, last_seen_at, state FROM detector.instance_snapshots`);
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      service: r.service,
      instance: r.instance,
      intervalMs: r.interval_ms,
      lastSeenAt: r.last_seen_at.getTime(),
      state: r.state,
    }));
  },
};
