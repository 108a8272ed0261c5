import type { EntityManager } from 'typeorm';
import type { IncidentResolvedData, IncidentUpdatedData } from '@autoheal/contracts';
import type { TenantDocument } from '../planning/policy-port.js';
import type { DowntimeRecord } from './availability.js';

/** A service the check has to measure, with what it needs for that. */
export interface ServiceToMeasure {
  tenantId: string;
  service: string;
  /** When the breach in progress was reported; null when none is. */
  breachedAt: Date | null;
  document: TenantDocument | null;
  policyVersion: string | null;
}

interface RawDowntime {
  tenant_id: string;
  service: string;
  instance: string;
  kind: string;
  down_since: Date;
  down_until: Date | null;
  suspected_cause: string | null;
}

/**
 * Two-key advisory-lock class for "the availability check": one process measures at a time, the
 * others skip the tick (the two-key space is apart from the migrations' and the relay's).
 */
const AVAILABILITY_CHECK_LOCK = 0x61766169;

/**
 * The only SQL about availability, but for the opened incident, which the statement that starts
 * its decision records (remediationsRepository.claimRecordAndLock). Every call takes the
 * caller's transaction.
 */
export const availabilityRepository = {
  /** Records a suspicion an update added after the opening; an update without one changes nothing here. */
  async recordUpdated(m: EntityManager, tenantId: string, d: IncidentUpdatedData): Promise<void> {
    if (!d.suspectedCause) return;
    await m.query(
      `INSERT INTO decision.incident_downtime (incident_id, tenant_id, service, instance, kind, suspected_cause)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (incident_id) DO UPDATE SET suspected_cause = coalesce(decision.incident_downtime.suspected_cause, EXCLUDED.suspected_cause)`,
      [d.incidentId, tenantId, d.service, d.instance, d.kind, d.suspectedCause],
    );
  },

  /**
   * Records the end of an incident. Arriving before its opening (the consumer handles several
   * messages at once), it also says when the incident started: resolvedAt − durationMs.
   */
  async recordResolved(m: EntityManager, tenantId: string, d: IncidentResolvedData): Promise<void> {
    const until = new Date(d.resolvedAt);
    await m.query(
      `INSERT INTO decision.incident_downtime (incident_id, tenant_id, service, instance, kind, down_since, down_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (incident_id) DO UPDATE SET down_until = EXCLUDED.down_until,
         down_since = coalesce(decision.incident_downtime.down_since, EXCLUDED.down_since)`,
      [d.incidentId, tenantId, d.service, d.instance, d.kind, new Date(until.getTime() - d.durationMs), until],
    );
  },

  /** false when another process is checking now. */
  async tryLockCheck(m: EntityManager): Promise<boolean> {
    const [row]: { locked: boolean }[] = await m.query(`SELECT pg_try_advisory_xact_lock($1::int, 0) AS locked`, [AVAILABILITY_CHECK_LOCK]);
    return row.locked;
  },

  /**
   * Services whose availability may have fallen (an incident open, or one that ended since the
   * last check) or may have recovered (a breach in progress). A service with neither can only
   * rise as its window slides, so it is not measured: a tick costs what is open, not all history.
   */
  async servicesToMeasure(m: EntityManager, limit: number): Promise<ServiceToMeasure[]> {
    const rows: { tenant_id: string; service: string; breached_at: Date | null; document: TenantDocument | null; policy_version: string | null }[] = await m.query(
      `WITH candidates AS (
         SELECT DISTINCT tenant_id, service FROM decision.incident_downtime WHERE settled_at IS NULL
         UNION
         SELECT tenant_id, service FROM decision.service_availability WHERE breached_at IS NOT NULL
       )
       SELECT c.tenant_id, c.service, a.breached_at, t.document, t.policy_version
       FROM (SELECT * FROM candidates ORDER BY tenant_id, service LIMIT $1) c
       LEFT JOIN decision.service_availability a ON a.tenant_id = c.tenant_id AND a.service = c.service
       LEFT JOIN decision.tenants t ON t.tenant_id = c.tenant_id`,
      [limit],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, service: r.service, breachedAt: r.breached_at, document: r.document, policyVersion: r.policy_version }));
  },

  /** The service's incidents that overlap [since, until): open ones and those that ended after `since`. */
  async downtimeIn(m: EntityManager, tenantId: string, service: string, since: Date, until: Date): Promise<DowntimeRecord[]> {
    const rows: RawDowntime[] = await m.query(
      `SELECT tenant_id, service, instance, kind, down_since, down_until, suspected_cause FROM decision.incident_downtime
       WHERE tenant_id = $1 AND service = $2 AND (down_until IS NULL OR down_until > $3) AND down_since < $4`,
      [tenantId, service, since, until],
    );
    return rows.map((r) => ({
      instance: r.instance,
      kind: r.kind,
      downSince: r.down_since.getTime(),
      downUntil: r.down_until?.getTime() ?? null,
      suspectedCause: r.suspected_cause,
    }));
  },

  /** Incidents of the service that ended by `now` were measured: they stop making it a candidate. */
  async settle(m: EntityManager, tenantId: string, service: string, now: Date): Promise<void> {
    await m.query(
      `UPDATE decision.incident_downtime SET settled_at = $3
       WHERE tenant_id = $1 AND service = $2 AND settled_at IS NULL AND down_until IS NOT NULL AND down_until <= $3`,
      [tenantId, service, now],
    );
  },

  /** Stores the measurement and whether a breach is in progress (`breachedAt` null: none). */
  async saveMeasurement(m: EntityManager, tenantId: string, service: string, availability: number, now: Date, breachedAt: Date | null): Promise<void> {
    await m.query(
      `INSERT INTO decision.service_availability (tenant_id, service, breached_at, availability, measured_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, service) DO UPDATE SET breached_at = EXCLUDED.breached_at, availability = EXCLUDED.availability, measured_at = EXCLUDED.measured_at`,
      [tenantId, service, breachedAt, availability, now],
    );
  },
};
