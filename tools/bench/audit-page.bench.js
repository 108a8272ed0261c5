// `npm run bench` (audit page part): one page of a tenant's audit trail when the log holds
// BENCH_AUDIT_PAGE_ROWS (10,000,000) rows, spread over BENCH_AUDIT_PAGE_MONTHS (24) monthly
// partitions and BENCH_AUDIT_PAGE_TENANTS (20) tenants. Prints — never asserts — beside the floor:
//
//   http     p50 / p99 of `GET /v1/tenants/<tenant>/audit?limit=50&cursor=<random>` against the
//            real auditor (API key check, read budget, the read pool as autoheal_auditor_reader
//            under row-level security, the read recorded) — the figure the goal is about
//            (p99 ≤ 20 ms).
//   sql      p50 / p99 of the same page's SQL (auditLogRepository.list: the partitioned parent,
//            as the reader role with the tenant scope set, a prepared statement as the API
//            sends it), straight on a connection.
//   floor    p50 / p99 of the same query, prepared too, on a plain unpartitioned copy of the
//            rows with only a primary key (tenant_id, seq), as the superuser (no row-level
//            security).
//
// The rows are generated in SQL (INSERT … SELECT generate_series, as the superuser, straight into
// the partitioned table): a page read does not re-verify the chain, so the hashes are filler of the
// right shape. BENCH_AUDIT_PAGE_ROWS=1000000 for a quicker look; BENCH_AUDIT_PAGE_SAMPLES (2,000)
// pages measured per figure after 200 to warm up.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Client } = require('pg');
const { ROOT } = require('../dev/system.js');
const { roleUrl } = require('../infra/postgres-roles.js');
const { signingEnvFor } = require('../dev/signing-keys.js');
const { benchDatabase, percentile, startNats } = require('./support.js');

const ROWS = Number(process.env.BENCH_AUDIT_PAGE_ROWS || 10_000_000);
const MONTHS = Number(process.env.BENCH_AUDIT_PAGE_MONTHS || 24);
const TENANTS = Number(process.env.BENCH_AUDIT_PAGE_TENANTS || 20);
const SAMPLES = Number(process.env.BENCH_AUDIT_PAGE_SAMPLES || 2_000);
const WARMUP = 200;
const LIMIT = 50;
const CHUNK = 500_000;
const OPS_KEY = 'bench_ops_key_0123456789abcdef';
const TENANT = 'bench-7';

const built = (p) => require(path.join(ROOT, p));
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;

/** Rows i in [from, to): tenant i % TENANTS, its seq i / TENANTS + 1, recorded evenly over MONTHS months from `start`. */
function generateSql(table, from, to, start) {
  const spanMs = MONTHS * 30 * 86_400_000 - 86_400_000;
  return `
    INSERT INTO ${table} (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome, source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
    SELECT 'bench-' || (i % ${TENANTS}), i / ${TENANTS} + 1, 'ev-' || i,
           CASE WHEN i % 3 = 0 THEN 'incident.opened' WHEN i % 3 = 1 THEN 'remediation.planned' ELSE 'remediation.verified' END,
           t, t, 'detector', 'incident.open', jsonb_build_object('service', 'api', 'instance', 'api-' || (i % 50)), 'info',
           'incident.bench.opened', NULL, NULL, NULL, jsonb_build_object('i', i, 'kind', 'heartbeat_missed'),
           md5(i::text) || md5((i + 1)::text), md5((i + 2)::text) || md5((i + 3)::text)
      FROM generate_series(${from}::bigint, ${to - 1}::bigint) AS i,
           LATERAL (SELECT '${start.toISOString()}'::timestamptz + (i::float8 / ${ROWS} * ${spanMs}) * interval '1 millisecond' AS t) AS at`;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-bench-audit-page-'));
  const db = await benchDatabase('bench_audit_page');
  const nats = await startNats(dir);
  execFileSync(process.execPath, [path.join(ROOT, 'apps/auditor/dist/migrate.js')], {
    env: { ...process.env, DATABASE_MIGRATION_URL: roleUrl(db.url, 'owner'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const admin = new Client({ connectionString: db.url });
  await admin.connect();
  let app;
  const reader = new Client({ connectionString: roleUrl(db.url, 'auditorReader') });
  try {
    const now = new Date();
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - MONTHS + 1, 1));
    await admin.query(`SELECT auditor.audit_ensure_partitions($1, $2)`, [start, MONTHS + 1]);
    await admin.query(`CREATE TABLE public.plain_audit (LIKE auditor.audit_log INCLUDING DEFAULTS)`);
    const generated = process.hrtime.bigint();
    for (let from = 0; from < ROWS; from += CHUNK) {
      const to = Math.min(ROWS, from + CHUNK);
      await admin.query(generateSql('auditor.audit_log', from, to, start));
      await admin.query(generateSql('public.plain_audit', from, to, start));
      process.stderr.write(`\r  generated ${to.toLocaleString('en')} of ${ROWS.toLocaleString('en')} rows (${(ms(generated) / 1000).toFixed(0)} s)`);
    }
    process.stderr.write('\n');
    await admin.query(`ALTER TABLE public.plain_audit ADD PRIMARY KEY (tenant_id, seq)`);
    await admin.query(`VACUUM ANALYZE auditor.audit_log`);
    await admin.query(`VACUUM ANALYZE public.plain_audit`);
    const partitions = (await admin.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'auditor.audit_log'::regclass`)).rows[0].n;
    const tenantRows = Math.floor(ROWS / TENANTS);

    process.env.LOG_LEVEL = 'warn';
    const { loadConfig } = built('apps/auditor/dist/config.js');
    const { createAuditorApp } = built('apps/auditor/dist/auditor.app.js');
    const config = loadConfig({
      ...signingEnvFor(path.join(dir, 'keys'), 'auditor'),
      DATABASE_URL: roleUrl(db.url, 'auditor'),
      DATABASE_READER_URL: roleUrl(db.url, 'auditorReader'),
      NATS_URL: nats.url,
      AUDITOR_PORT: '0',
      AUDITOR_OPS_API_KEY: OPS_KEY,
      AUDITOR_READ_RATE_PER_MINUTE: '100000000',
      AUDITOR_READ_BURST: '100000000',
      AUDITOR_RETENTION_INTERVAL_MS: '0',
      // No audit consumers run here: nothing to sample.
      AUDITOR_LAG_SAMPLE_INTERVAL_MS: '0',
      AUDITOR_ARCHIVE_DIR: path.join(dir, 'archive'),
    });
    app = await createAuditorApp(config, { nestLogs: false });
    await app.listen(0, '127.0.0.1');
    const baseUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const { encodeCursor } = built('apps/auditor/dist/audit-log/audit-cursor.js');

    // The same cursors for every figure: a random position in the tenant's chain, deterministic per run.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const cursors = Array.from({ length: WARMUP + SAMPLES }, () => Math.floor(random() * (tenantRows - LIMIT)));

    const pageSql = (table) => `SELECT tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
      source, correlation_id, causation_id, trace_id, payload, prev_hash, hash FROM ${table} WHERE tenant_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`;

    const viaHttp = async (afterSeq) => {
      const response = await fetch(`${baseUrl}/v1/tenants/${TENANT}/audit?limit=${LIMIT}&cursor=${encodeCursor(afterSeq)}`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
      if (response.status !== 200) throw new Error(`GET audit page: ${response.status} ${await response.text()}`);
      return (await response.json()).items.length;
    };
    await reader.connect();
    const viaSql = async (afterSeq) => {
      await reader.query('BEGIN');
      await reader.query(`SELECT set_config('autoheal.tenant_scope', '*', true), set_config('autoheal.tenant_id', $1, true)`, [TENANT]);
      const { rows } = await reader.query({ name: 'page', text: pageSql('auditor.audit_log'), values: [TENANT, afterSeq, LIMIT + 1] });
      await reader.query('COMMIT');
      return rows.length;
    };
    const onFloor = async (afterSeq) => {
      await admin.query('BEGIN');
      const { rows } = await admin.query({ name: 'page', text: pageSql('public.plain_audit'), values: [TENANT, afterSeq, LIMIT + 1] });
      await admin.query('COMMIT');
      return rows.length;
    };

    // Interleaved, cursor by cursor, so that the three see the same cache and the same load.
    const http = [];
    const sql = [];
    const floor = [];
    for (let i = 0; i < cursors.length; i++) {
      for (const [one, times] of [[viaHttp, http], [viaSql, sql], [onFloor, floor]]) {
        const started = process.hrtime.bigint();
        const rows = await one(cursors[i]);
        if (i >= WARMUP) times.push(ms(started));
        if (rows !== LIMIT + 1 && rows !== LIMIT) throw new Error(`a page returned ${rows} rows (cursor ${cursors[i]})`);
      }
    }

    const line = (label, times, base) =>
      `  ${label.padEnd(62)} p50 ${percentile(times, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(times, 99).toFixed(2).padStart(7)} ms${base ? `   ${(percentile(times, 99) / percentile(base, 99)).toFixed(2)}x the floor's p99` : ''}`;
    console.log(`audit page at ${ROWS.toLocaleString('en')} rows (${partitions} partitions, ${TENANTS} tenants, ${tenantRows.toLocaleString('en')} rows of ${TENANT}; limit=${LIMIT}, ${SAMPLES} random cursors)`);
    console.log(line('floor: the page query on a plain table, primary key only', floor));
    console.log(line('sql: the page query on the partitioned log (reader role, RLS)', sql, floor));
    console.log(line(`an audit page's p99 at ${(ROWS / 1e6).toLocaleString('en')}M rows: GET …/audit over HTTP (goal ≤ 20 ms)`, http, floor));
  } finally {
    await reader.end().catch(() => undefined);
    await app?.close();
    await admin.end();
    await nats.stop();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
