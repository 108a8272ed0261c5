import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Availability over a window (compliance/availability.ts): when each incident kept its instance
 * down, recorded from incident.opened / updated / resolved in whatever order they arrive, and per
 * service whether a breach of its availability target is being reported, so each breach is
 * reported once, across restarts and processes.
 */
export class DecisionAvailability1764100000000 implements MigrationInterface {
  name = 'DecisionAvailability1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE decision.incident_downtime (
        incident_id     uuid PRIMARY KEY,
        tenant_id       text NOT NULL,
        service         text NOT NULL,
        instance        text NOT NULL,
        kind            text NOT NULL,
        -- The incident's signalAt; until incident.opened arrives, resolvedAt − durationMs, or null after only an update.
        down_since      timestamptz,
        -- resolvedAt; null while the incident is open.
        down_until      timestamptz,
        -- Set on opening or by a later update; such an incident is not downtime.
        suspected_cause text,
        -- When a check measured the service after the incident ended: from then on the row can no
        -- longer make its service fall below target, so the check stops looking at the service for it.
        settled_at      timestamptz
      )`);
    // The window of one service: open incidents and those that ended after the window's start.
    await q.query(`CREATE INDEX incident_downtime_window_idx ON decision.incident_downtime (tenant_id, service, down_until)`);
    // The services a check has to measure: an incident open, or ended since the last check.
    await q.query(`CREATE INDEX incident_downtime_unsettled_idx ON decision.incident_downtime (tenant_id, service) WHERE settled_at IS NULL`);

    await q.query(`
      CREATE TABLE decision.service_availability (
        tenant_id      text NOT NULL,
        service        text NOT NULL,
        -- When the breach in progress was reported; null when the service meets its target.
        breached_at    timestamptz,
        -- The last measurement, for operators; the check recomputes it from incident_downtime.
        availability   double precision NOT NULL,
        measured_at    timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, service)
      )`);
    await q.query(`CREATE INDEX service_availability_breached_idx ON decision.service_availability (tenant_id, service) WHERE breached_at IS NOT NULL`);

    // Incidents decided before this migration: their window is not lost. Detection time stands in
    // for signalAt, which was not stored.
    await q.query(`
      INSERT INTO decision.incident_downtime (incident_id, tenant_id, service, instance, kind, down_since, down_until, suspected_cause)
      SELECT incident_id, tenant_id, service, instance, coalesce(incident->>'kind', 'unknown'), opened_at, incident_resolved_at, suspected_cause
      FROM decision.remediations WHERE opened_at IS NOT NULL
      ON CONFLICT (incident_id) DO NOTHING`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE decision.service_availability');
    await q.query('DROP TABLE decision.incident_downtime');
  }
}
