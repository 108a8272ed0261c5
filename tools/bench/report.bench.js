// `npm run bench` (report part): a compliance report over one tenant's million audit rows, in
// process, against its own database. Prints — never asserts — beside its floor:
//
//   floor    seconds of one bare pass over the tenant's rows on the same read path (the reader
//            role, row-level security scoped to the caller, one transaction): SELECT count(*),
//            max(occurred_at) and a field of every payload — what any report must at least read.
//   report   seconds of GET …/reports/compliance's work (ReportsService: the head, the
//            thresholds, per-incident facts, grouped counts and listed rows in SQL, the figures
//            in TypeScript, the canonical JSON rendered and signed) for a period holding every
//            row. Goal: ≤ 5 s at 1M rows.
//
// The rows are written straight into auditor.audit_log by one INSERT … SELECT generate_series
// (as the database's superuser): the real columns and payload shape of each event type, but
// dummy hashes — the report reads the trail, it does not verify the chain. Each run takes the
// median of BENCH_REPORT_RUNS (3) after one warm-up of each. BENCH_REPORT_ROWS (1,000,000).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Client } = require('pg');
const { ROOT } = require('../dev/system.js');
const { roleUrl } = require('../infra/postgres-roles.js');
const { signingEnvFor } = require('../dev/signing-keys.js');
const { benchDatabase, startNats } = require('./support.js');

const ROWS = Number(process.env.BENCH_REPORT_ROWS || 1_000_000);
const RUNS = Number(process.env.BENCH_REPORT_RUNS || 3);
const TENANT = 'bench-report';
/** Rows per generated incident (see INSERT below). */
const PER_INCIDENT = 8;
const DAYS = 30;
const FROM = new Date('2026-01-01T00:00:00.000Z');
const TO = new Date(FROM.getTime() + DAYS * 86_400_000);

const built = (p) => require(path.join(ROOT, p));

/**
 * One incident's rows (k = 0..7): opened, planned, started, succeeded (every 10th: failed),
 * resolved, verified (every 10th: escalated), updated, and one of a refusal (every 4th), an approval (every 20th), a breach
 * (every 40th) or another update. 20 services, incidents spread evenly over the 30 days.
 */
const INSERT = `
WITH g AS (
  SELECT i, k, md5('incident' || i)::uuid::text AS incident, md5('remediation' || i)::uuid::text AS remediation,
         'svc-' || (i % 20) AS service, 'inst-' || (i % 7) AS instance,
         $2::timestamptz + (i * ($4::float8 / $3::int)) * interval '1 millisecond' AS opened_at,
         500 + (i * 7919) % 20000 AS detection_ms, 60000 + (i * 104729) % 1800000 AS ttr_ms
    FROM generate_series(0::bigint, $3::int - 1) AS i CROSS JOIN generate_series(0, 7) AS k
), t AS (
  SELECT g.*,
         CASE k WHEN 0 THEN 'incident.opened' WHEN 1 THEN 'remediation.planned' WHEN 2 THEN 'remediation.started'
                WHEN 3 THEN CASE WHEN i % 10 = 9 THEN 'remediation.failed' ELSE 'remediation.succeeded' END
                WHEN 4 THEN 'incident.resolved'
                WHEN 5 THEN CASE WHEN i % 10 = 9 THEN 'remediation.escalated' ELSE 'remediation.verified' END
                WHEN 6 THEN 'incident.updated'
                ELSE CASE WHEN i % 4 = 0 THEN 'compliance.action_refused' WHEN i % 20 = 1 THEN 'remediation.approved'
                          WHEN i % 40 = 3 THEN 'compliance.breach' ELSE 'incident.updated' END END AS type,
         CASE WHEN k = 4 THEN opened_at + ttr_ms * interval '1 millisecond' - interval '1 second'
              WHEN k = 5 THEN opened_at + ttr_ms * interval '1 millisecond'
              ELSE opened_at + k * interval '1 second' END AS at
    FROM g
), d AS (
  SELECT t.*,
         CASE type
           WHEN 'incident.opened' THEN jsonb_build_object('incidentId', incident, 'service', service, 'instance', instance, 'kind', 'heartbeat_missed', 'severity', 'major',
                'signalAt', to_char((at - detection_ms * interval '1 millisecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'detectedAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'detectionLatencyMs', detection_ms, 'evidence', jsonb_build_object('missed', 3))
           WHEN 'incident.updated' THEN jsonb_build_object('incidentId', incident, 'service', service, 'instance', instance, 'kind', 'heartbeat_missed', 'severity', 'major', 'evidence', jsonb_build_object('missed', 4))
           WHEN 'incident.resolved' THEN jsonb_build_object('incidentId', incident, 'service', service, 'instance', instance, 'kind', 'heartbeat_missed',
                'resolvedAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'reason', 'heartbeats resumed', 'durationMs', ttr_ms - 1000)
           WHEN 'remediation.verified' THEN jsonb_build_object('remediationId', remediation, 'incidentId', incident, 'service', service, 'instance', instance, 'action', 'restart',
                'verifiedBy', 'incident_resolved', 'executedAt', to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'timeToRemediateMs', ttr_ms)
           WHEN 'remediation.escalated' THEN jsonb_build_object('incidentId', incident, 'remediationId', remediation, 'service', service, 'instance', instance, 'policyVersion', 'v1', 'reason', 'no fallback', 'candidates', '[]'::jsonb)
           WHEN 'remediation.approved' THEN jsonb_build_object('remediationId', remediation, 'incidentId', incident, 'service', service, 'instance', instance, 'action', 'restart', 'approvedBy', 'approver-' || (i % 5) || '@example.com')
           WHEN 'compliance.action_refused' THEN jsonb_build_object('incidentId', incident, 'service', service, 'instance', instance, 'action', 'failover',
                'rule', CASE WHEN i % 3 = 0 THEN 'change_freeze' ELSE 'region_not_allowed' END, 'reason', 'refused by policy', 'policyVersion', 'v1')
           WHEN 'compliance.breach' THEN jsonb_build_object('rule', 'time_to_remediate', 'incidentId', incident, 'service', service, 'observed', ttr_ms, 'threshold', 900000, 'reason', 'over the threshold', 'policyVersion', 'v1')
           WHEN 'remediation.failed' THEN jsonb_build_object('remediationId', remediation, 'incidentId', incident, 'service', service, 'instance', instance, 'action', 'restart', 'durationMs', 900,
                'error', jsonb_build_object('code', 'agent_unreachable', 'message', 'no reply'))
           ELSE jsonb_build_object('remediationId', remediation, 'incidentId', incident, 'service', service, 'instance', instance, 'action', 'restart', 'policyVersion', 'v1', 'reason', 'playbook')
         END AS data
    FROM t
)
INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome, source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
SELECT $1::text, 2 + i * 8 + k, md5('event' || i || '/' || k)::uuid::text, type, at, at + interval '50 milliseconds', 'bench', type,
       jsonb_build_object('service', service, 'instance', instance, 'incidentId', incident) || CASE WHEN type LIKE 'remediation.%' THEN jsonb_build_object('remediationId', remediation) ELSE '{}'::jsonb END,
       CASE WHEN type LIKE 'compliance.%' THEN 'refused' ELSE 'info' END, type, incident, NULL, NULL,
       jsonb_build_object('id', md5('event' || i || '/' || k)::uuid::text, 'type', type, 'version', 1, 'tenantId', $1::text, 'producer', 'bench',
                          'occurredAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'correlationId', incident, 'causationId', NULL, 'data', data),
       repeat('0', 64), repeat('0', 64)
  FROM d ORDER BY i, k`;

const POLICY = `
INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome, source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
VALUES ($1::text, 1, 'bench-policy-1', 'compliance.policy_changed', $2::timestamptz - interval '1 hour', $2::timestamptz - interval '1 hour', 'alice@example.com', 'policy.change', '{}', 'success', 'bench', NULL, NULL, NULL,
        jsonb_build_object('type', 'compliance.policy_changed', 'tenantId', $1::text, 'data', jsonb_build_object('policyVersion', 'v1', 'previousVersion', NULL, 'changedBy', 'alice@example.com',
          'changes', jsonb_build_array(jsonb_build_object('path', 'frameworks', 'to', jsonb_build_array('HIPAA'))),
          'thresholds', jsonb_build_object('availabilityTarget', 0.999, 'maxTimeToRemediateMs', 900000))),
        repeat('0', 64), repeat('0', 64))`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function seconds(work) {
  const started = process.hrtime.bigint();
  const result = await work();
  return { s: Number(process.hrtime.bigint() - started) / 1e9, result };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-bench-report-'));
  const db = await benchDatabase('bench_report');
  const nats = await startNats(dir);
  execFileSync(process.execPath, [path.join(ROOT, 'apps/auditor/dist/migrate.js')], {
    env: { ...process.env, DATABASE_MIGRATION_URL: roleUrl(db.url, 'owner'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  process.env.LOG_LEVEL = 'warn';
  const { loadConfig } = built('apps/auditor/dist/config.js');
  const { createAuditorApp } = built('apps/auditor/dist/auditor.app.js');
  const { ReportsService } = built('apps/auditor/dist/reports/reports.service.js');
  const { AUDIT_READ_DB } = built('apps/auditor/dist/audit-log/audit-read-pool.js');
  const { auditLogRepository } = built('apps/auditor/dist/audit-log/audit-log.repository.js');
  const superuser = new Client({ connectionString: db.url });
  await superuser.connect();
  let app;
  try {
    const incidents = Math.ceil((ROWS - 1) / PER_INCIDENT);
    const loaded = await seconds(async () => {
      await superuser.query(POLICY, [TENANT, FROM]);
      await superuser.query(INSERT, [TENANT, FROM, incidents, TO.getTime() - FROM.getTime() - 3_600_000]);
      await superuser.query('ANALYZE auditor.audit_log');
      return (await superuser.query(`SELECT count(*)::int AS n FROM auditor.audit_log WHERE tenant_id = $1`, [TENANT])).rows[0].n;
    });

    const config = loadConfig({
      ...signingEnvFor(path.join(dir, 'keys'), 'auditor'),
      DATABASE_URL: roleUrl(db.url, 'auditor'),
      DATABASE_READER_URL: roleUrl(db.url, 'auditorReader'),
      NATS_URL: nats.url,
      AUDITOR_PORT: '0',
      AUDITOR_OPS_API_KEY: 'bench_ops_key_0123456789abcdef',
      AUDITOR_READ_BURST: '1000',
      AUDITOR_CHECKPOINT_DIR: path.join(dir, 'checkpoints'),
    });
    app = await createAuditorApp(config, { nestLogs: false });
    await app.init();
    const reports = app.get(ReportsService);
    const readDb = app.get(AUDIT_READ_DB);
    const caller = { actor: 'bench', source: 'bench', scope: { kind: 'all' } };
    const query = { from: FROM.toISOString(), to: TO.toISOString(), format: 'json' };

    const floorOnce = () =>
      readDb.transaction(async (m) => {
        await auditLogRepository.setScope(m, caller.scope, TENANT);
        return m.query(`SELECT count(*) AS n, max(occurred_at) AS last, count(payload->'data'->>'service') AS services FROM auditor.audit_log WHERE tenant_id = $1`, [TENANT]);
      });
    await floorOnce();
    await reports.compliance(TENANT, query, caller);
    const floors = [];
    const runs = [];
    let last;
    for (let r = 0; r < RUNS; r++) {
      floors.push((await seconds(floorOnce)).s);
      const run = await seconds(() => reports.compliance(TENANT, query, caller));
      runs.push(run.s);
      last = run.result;
    }
    // Where the time goes: the one SQL statement alone, on the same read path.
    const { reportsRepository } = built('apps/auditor/dist/reports/reports.repository.js');
    const sqlOnly = await seconds(() =>
      readDb.transaction(async (m) => {
        await auditLogRepository.setScope(m, caller.scope, TENANT);
        return reportsRepository.facts(m, { tenantId: TENANT, throughSeq: last.report.throughSeq, from: FROM, to: TO });
      }),
    );
    const floor = median(floors);
    const report = median(runs);
    console.log(`report generation for a tenant with ${loaded.result.toLocaleString('en')} rows (goal <= 5 s; rows loaded in ${loaded.s.toFixed(0)} s; median of ${RUNS})`);
    console.log(`  floor: one bare pass over the tenant's rows (same read path)   ${floor.toFixed(2).padStart(6)} s`);
    console.log(
      `  compliance report, every row in the period (json, signed)         ${report.toFixed(2).padStart(6)} s   ${(report / floor).toFixed(2)}x the floor; ${last.report.figures.length} figures, ${last.body.length.toLocaleString('en')} bytes; goal <= 5 s: ${report <= 5 ? 'met' : 'NOT met'}`,
    );
    console.log(`    of which the SQL statement (one run)                            ${sqlOnly.s.toFixed(2).padStart(6)} s; load average while measured: ${os.loadavg()[0].toFixed(1)}`);
  } finally {
    await app?.close();
    await superuser.end();
    await nats.stop();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { INSERT, POLICY, TENANT, FROM, TO };

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
