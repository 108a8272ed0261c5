import type { EntityManager } from 'typeorm';
import type { InstanceRef, InstanceState, TrackedInstance } from '../heartbeat/heartbeat-tracker.js';

/** One instance's rule state (JSON, layout private to the rules); `undefined` clears it. */
export interface RuleStateSnapshot extends InstanceRef {
  state: unknown;
}

export interface LoadedSnapshots {
  /** Instances with heartbeat state. */
  tracked: TrackedInstance[];
  ruleStates: RuleStateSnapshot[];
}

/**
 * Detector state snapshots: written in batches, read once at boot. Heartbeat columns and the
 * rule state are written separately (an instance may report metrics before its first
 * heartbeat), each leaving the other untouched.
 */
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

  async upsertRuleStates(m: EntityManager, states: RuleStateSnapshot[]): Promise<void> {
    if (states.length === 0) return;
    await m.query(
      `INSERT INTO detector.instance_snapshots (tenant_id, service, instance, rule_state, updated_at)
       SELECT t, s, i, rs, now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS u(t, s, i, rs)
       ON CONFLICT (tenant_id, service, instance) DO UPDATE
         SET rule_state = EXCLUDED.rule_state, updated_at = EXCLUDED.updated_at`,
      [
        states.map((x) => x.tenantId),
        states.map((x) => x.service),
        states.map((x) => x.instance),
        states.map((x) => (x.state === undefined ? null : JSON.stringify(x.state))),
      ],
    );
  },

  /** Deletes the saved state of instances the detector forgot. */
  async deleteMany(m: EntityManager, refs: InstanceRef[]): Promise<void> {
    if (refs.length === 0) return;
    await m.query(
      `DELETE FROM detector.instance_snapshots s
       USING unnest($1::text[], $2::text[], $3::text[]) AS u(t, sv, i)
       WHERE s.tenant_id = u.t AND s.service = u.sv AND s.instance = u.i`,
      [refs.map((x) => x.tenantId), refs.map((x) => x.service), refs.map((x) => x.instance)],
    );
  },

  async loadAll(m: EntityManager): Promise<LoadedSnapshots> {
    const rows: {
      tenant_id: string;
      service: string;
      instance: string;
      interval_ms: number | null;
      last_seen_at: Date | null;
      state: InstanceState | null;
      rule_state: unknown;
    }[] = await m.query(`SELECT tenant_id, service, instance, interval_ms, last_seen_at, state, rule_state FROM detector.instance_snapshots`);
    const out: LoadedSnapshots = { tracked: [], ruleStates: [] };
    for (const r of rows) {
      const ref = { tenantId: r.tenant_id, service: r.service, instance: r.instance };
      if (r.interval_ms !== null && r.last_seen_at !== null && r.state !== null) {
        out.tracked.push({ ...ref, intervalMs: r.interval_ms, lastSeenAt: r.last_seen_at.getTime(), state: r.state });
      }
      if (r.rule_state !== null && r.rule_state !== undefined) out.ruleStates.push({ ...ref, state: r.rule_state });
    }
    return out;
  },
};
