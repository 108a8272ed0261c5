import type { EntityManager } from 'typeorm';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import type { StateSnapshot } from './state-metrics.js';

/** The only SQL of the state gauges: reads, in the caller's transaction. */
export const stateMetricsRepository = {
  /** Everything stateFigures needs; incidents that overlap [since, until). */
  async snapshot(m: EntityManager, since: Date, until: Date): Promise<StateSnapshot> {
    const [global]: { open: boolean }[] = await m.query(`SELECT open FROM decision.breaker WHERE id = 1`);
    const breakers: { tenant_id: string; open: boolean }[] = await m.query(`SELECT tenant_id, open FROM decision.tenant_breakers`);
    const approvals: { tenant_id: string; pending: number; oldest: Date }[] = await m.query(
      `SELECT tenant_id, count(*)::int AS pending, min(decided_at) AS oldest FROM decision.remediations
       WHERE status = 'awaiting_approval' GROUP BY tenant_id`,
    );
    const downtime: { tenant_id: string; service: string; instance: string; kind: string; down_since: Date; down_until: Date | null; suspected_cause: string | null }[] = await m.query(
      `SELECT tenant_id, service, instance, kind, down_since, down_until, suspected_cause FROM decision.incident_downtime
       WHERE (down_until IS NULL OR down_until > $1) AND down_since < $2`,
      [since, until],
    );
    return {
      globalBreakerOpen: global?.open ?? false,
      tenantBreakers: breakers.map((b) => ({ tenantId: b.tenant_id, open: b.open })),
      approvals: approvals.map((a) => ({ tenantId: a.tenant_id, pending: a.pending, oldestDecidedAt: a.oldest })),
      tenants: (await tenantsRepository.list(m)).map((t) => ({ tenantId: t.tenantId, document: t.document })),
      downtime: downtime.map((r) => ({
        tenantId: r.tenant_id,
        service: r.service,
        instance: r.instance,
        kind: r.kind,
        downSince: r.down_since.getTime(),
        downUntil: r.down_until?.getTime() ?? null,
        suspectedCause: r.suspected_cause,
      })),
    };
  },
};
