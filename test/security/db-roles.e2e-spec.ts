/**
 * Each service's Postgres role, logged in as it, against a database migrated the way production
 * is (as the owner role): every way it could rewrite the audit trail, widen an API key, reach
 * another service's data or become someone with more rights is refused — and leaves the database
 * exactly as it was (audit rows and hashes, keys, roles, memberships, triggers, functions).
 * Then the auditor, running as its role, still records events and the chain verifies.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { subjectFor } from '@autoheal/contracts';
import { createTestDatabase, startNatsServer, type DatabaseRoleName, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { AuditLogService } from '../../apps/auditor/src/audit-log/audit-log.service';
import { incidentOpened, OPS_KEY, startAuditor, type RunningAuditor } from '../../apps/auditor/src/test-support/auditor';

// The reader roles are tried in apps/auditor/src/audit-log/audit-read-isolation.int-spec.ts and apps/decision/src/admin/admin-read-isolation.int-spec.ts.
type Service = Exclude<DatabaseRoleName, 'owner' | 'auditorReader' | 'decisionReader'>;
const SERVICES: Service[] = ['detector', 'decision', 'executor', 'auditor'];
const ROLE: Record<Service, string> = { detector: 'autoheal_detector', decision: 'autoheal_decision', executor: 'autoheal_executor', auditor: 'autoheal_auditor' };
/** A table of each service's own, for the TRUNCATE and DDL attempts. */
const OWN_TABLE: Record<Service, string> = { detector: 'detector.incidents', decision: 'decision.tenants', executor: 'executor.executions', auditor: 'auditor.inbox' };
const VICTIM = 'victim';
const TENANT_KEY_ID = 'ak_tenantvictim000';
const REVOKED_KEY_ID = 'ak_revokedvictim00';
const ON_API_KEYS = /permission denied for (table api_keys|schema auditor)/;

interface Attack {
  name: string;
  /** Statements run in order on the role's own connection; the last one must fail with `refused`. */
  sql: (service: Service, database: string) => string[];
  refused: RegExp;
  /** Roles this attack does not apply to (a right the role holds by design). */
  except?: Service[];
}

/** The partition this month's rows are in (`audit_log_pYYYY_MM`, UTC). */
const thisMonthsPartition = () => `audit_log_p${new Date().toISOString().slice(0, 7).replace('-', '_')}`;
const ON_AUDIT_LOG = /permission denied for (table audit_log|schema auditor)/;
const NOT_OWNER_OF_AUDIT_LOG = /must be owner of (table|relation) audit_log|permission denied for schema auditor/;

const ATTACKS: Attack[] = [
  { name: 'UPDATE audit_log', sql: () => [`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = '${VICTIM}'`], refused: ON_AUDIT_LOG },
  { name: 'DELETE audit_log', sql: () => [`DELETE FROM auditor.audit_log WHERE tenant_id = '${VICTIM}'`], refused: ON_AUDIT_LOG },
  { name: 'TRUNCATE audit_log', sql: () => ['TRUNCATE auditor.audit_log'], refused: ON_AUDIT_LOG },
  {
    name: 'INSERT into audit_log with its own chain fields',
    sql: () => [
      `INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome, source, payload, prev_hash, hash)
       SELECT tenant_id, seq + 1, 'forged-event', 'remediation.succeeded', now(), now(), 'executor', 'restart.execute', '{}', 'success', 'forged', '{}', hash, repeat('a', 64)
       FROM auditor.audit_log WHERE tenant_id = '${VICTIM}' ORDER BY seq DESC LIMIT 1`,
    ],
    refused: ON_AUDIT_LOG,
  },
  {
    name: 'the append function with a forged seq and hash',
    sql: () => [
      `SELECT * FROM auditor.append_audit_entry('${VICTIM}', 'forged-2', 'remediation.succeeded', now(), 'executor', 'restart.execute', 'success',
        '{}'::jsonb, 'forged', NULL, NULL, NULL, '{}'::jsonb, 2::bigint, repeat('a', 64))`,
    ],
    refused: /function auditor\.append_audit_entry\(.*\) does not exist|permission denied for schema auditor/,
  },
  {
    name: 'the batch append function with forged seqs and hashes',
    sql: () => [
      `SELECT * FROM auditor.append_audit_entries(ARRAY['${VICTIM}'], ARRAY['forged-3'], ARRAY['remediation.succeeded'], ARRAY[now()], ARRAY['executor'],
        ARRAY['restart.execute'], ARRAY['success'], ARRAY['{}'::jsonb], ARRAY['forged'], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY[NULL::text],
        ARRAY['{}'::jsonb], ARRAY[2::bigint], ARRAY[repeat('a', 64)])`,
    ],
    refused: /function auditor\.append_audit_entries\(.*\) does not exist|permission denied for schema auditor/,
  },
  { name: 'RESET ROLE, then UPDATE', sql: () => ['RESET ROLE', `UPDATE auditor.audit_log SET actor = 'mallory'`], refused: ON_AUDIT_LOG },
  { name: 'SET ROLE autoheal_owner', sql: () => ['SET ROLE autoheal_owner'], refused: /permission denied to set role "autoheal_owner"/ },
  { name: 'SET ROLE postgres', sql: () => ['SET ROLE postgres'], refused: /permission denied to set role "postgres"/ },
  { name: 'SET SESSION AUTHORIZATION', sql: () => ['SET SESSION AUTHORIZATION postgres'], refused: /permission denied to set session authorization/ },
  { name: 'SET session_replication_role = replica (skips triggers)', sql: () => ['SET session_replication_role = replica'], refused: /permission denied to set parameter "session_replication_role"/ },
  { name: 'ALTER TABLE audit_log DISABLE TRIGGER', sql: () => ['ALTER TABLE auditor.audit_log DISABLE TRIGGER ALL'], refused: NOT_OWNER_OF_AUDIT_LOG },
  { name: 'DROP TRIGGER', sql: () => ['DROP TRIGGER audit_log_no_update_delete ON auditor.audit_log'], refused: NOT_OWNER_OF_AUDIT_LOG },
  {
    name: 'CREATE FUNCTION in its own schema',
    sql: (s) => [`CREATE FUNCTION ${s}.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT ''2000-01-01''::timestamptz'`],
    refused: /permission denied for schema/,
  },
  {
    name: 'CREATE OR REPLACE the hash function',
    sql: () => [
      `CREATE OR REPLACE FUNCTION auditor.audit_canonical_json(v jsonb) RETURNS text LANGUAGE sql AS 'SELECT ''{}'''`,
    ],
    refused: /permission denied for schema auditor|must be owner of function/,
  },
  { name: 'CREATE FUNCTION in public', sql: () => [`CREATE FUNCTION public.shadow() RETURNS int LANGUAGE sql AS 'SELECT 1'`], refused: /permission denied for schema public/ },
  { name: 'CREATE SCHEMA', sql: () => ['CREATE SCHEMA mallory'], refused: /permission denied for database/ },
  { name: 'TRUNCATE its own table', sql: (s) => [`TRUNCATE ${OWN_TABLE[s]}`], refused: /permission denied for table/ },
  { name: 'ALTER its own table', sql: (s) => [`ALTER TABLE ${OWN_TABLE[s]} ADD COLUMN mallory text`], refused: /must be owner of table/ },
  { name: 'DROP its own table', sql: (s) => [`DROP TABLE ${OWN_TABLE[s]}`], refused: /must be owner of table/ },
  { name: 'forget a migration', sql: (s) => [`DELETE FROM ${s}.migrations`], refused: /permission denied for table migrations/ },
  {
    name: 'UPDATE api_keys to widen a tenant viewer to an admin over every tenant',
    sql: () => [`UPDATE auditor.api_keys SET roles = ARRAY['admin'], tenant_scope = NULL WHERE id = '${TENANT_KEY_ID}'`],
    refused: ON_API_KEYS,
  },
  { name: 'give a key to someone else', sql: () => [`UPDATE auditor.api_keys SET subject = 'mallory' WHERE id = '${TENANT_KEY_ID}'`], refused: ON_API_KEYS },
  {
    // The auditor creates keys (POST /v1/api-keys, admin only): its role may insert them. Nobody else may.
    name: 'INSERT an admin key into api_keys',
    sql: () => [
      `INSERT INTO auditor.api_keys (id, key_hash, subject, roles, tenant_scope, label, origin, created_by) VALUES ('ak_mallory', repeat('b', 64), 'mallory', ARRAY['admin'], NULL, 'mallory', 'api', 'mallory')`,
    ],
    refused: ON_API_KEYS,
    except: ['auditor'],
  },
  // The auditor's seals, checkpoints and key history are append-only like the log: its own role inserts, never changes.
  ...(['audit_seals', 'checkpoints', 'signing_keys'] as const).flatMap((table): Attack[] => [
    { name: `UPDATE ${table}`, sql: () => [`UPDATE auditor.${table} SET key_id = 'ed25519:mallory'`], refused: new RegExp(`permission denied for (table ${table}|schema auditor)`) },
    { name: `DELETE ${table}`, sql: () => [`DELETE FROM auditor.${table}`], refused: new RegExp(`permission denied for (table ${table}|schema auditor)`) },
    { name: `TRUNCATE ${table}`, sql: () => [`TRUNCATE auditor.${table}`], refused: new RegExp(`permission denied for (table ${table}|schema auditor)`) },
    { name: `DISABLE TRIGGER on ${table}`, sql: () => [`ALTER TABLE auditor.${table} DISABLE TRIGGER ALL`], refused: new RegExp(`must be owner of (table|relation) ${table}|permission denied for schema auditor`) },
  ]),
  // The log's monthly partitions: no right on any, nor to detach or drop one (retention drops through the owner role only).
  { name: 'DELETE from this month’s partition', sql: () => [`DELETE FROM auditor.${thisMonthsPartition()}`], refused: /permission denied for (table audit_log_p\d{4}_\d{2}|schema auditor)/ },
  { name: 'DROP this month’s partition', sql: () => [`DROP TABLE auditor.${thisMonthsPartition()}`], refused: /must be owner of table audit_log_p\d{4}_\d{2}|permission denied for schema auditor/ },
  { name: 'DETACH a partition', sql: () => [`ALTER TABLE auditor.audit_log DETACH PARTITION auditor.${thisMonthsPartition()}`], refused: NOT_OWNER_OF_AUDIT_LOG },
  {
    name: 'run the partition drop',
    sql: () => [`SELECT auditor.audit_drop_partition('${thisMonthsPartition()}', 'infinity')`],
    refused: /permission denied for (function audit_drop_partition|schema auditor)/,
  },
  { name: 'UPDATE audit_tombstones', sql: () => [`UPDATE auditor.audit_tombstones SET key_id = 'ed25519:mallory'`], refused: /permission denied for (table audit_tombstones|schema auditor)/ },
  { name: 'DELETE audit_tombstones', sql: () => ['DELETE FROM auditor.audit_tombstones'], refused: /permission denied for (table audit_tombstones|schema auditor)/ },
  { name: 'un-revoke a key', sql: () => [`UPDATE auditor.api_keys SET revoked_at = NULL WHERE id = '${REVOKED_KEY_ID}'`], refused: /permission denied for (table api_keys|schema auditor)|revocation cannot be changed/ },
  { name: 'extend an expiry', sql: () => [`UPDATE auditor.api_keys SET expires_at = 'infinity' WHERE id = '${REVOKED_KEY_ID}'`], refused: /permission denied for (table api_keys|schema auditor)|revocation cannot be changed|cannot move later/ },
  { name: 'delete a key', sql: () => [`DELETE FROM auditor.api_keys WHERE id = '${TENANT_KEY_ID}'`], refused: ON_API_KEYS },
  { name: 'CREATE ROLE', sql: () => ['CREATE ROLE mallory LOGIN'], refused: /permission denied to create role/ },
  { name: 'CREATE ROLE … SUPERUSER', sql: () => ['CREATE ROLE mallory LOGIN SUPERUSER'], refused: /permission denied to create role|must be superuser to create superusers/ },
  { name: 'ALTER ROLE self SUPERUSER', sql: (s) => [`ALTER ROLE ${ROLE[s]} SUPERUSER`], refused: /must be superuser|permission denied/ },
  { name: 'ALTER ROLE self CREATEROLE', sql: (s) => [`ALTER ROLE ${ROLE[s]} CREATEROLE`], refused: /permission denied/ },
  { name: 'ALTER ROLE self BYPASSRLS', sql: (s) => [`ALTER ROLE ${ROLE[s]} BYPASSRLS`], refused: /must be superuser|permission denied/ },
  { name: 'ALTER ROLE self CREATEDB', sql: (s) => [`ALTER ROLE ${ROLE[s]} CREATEDB`], refused: /permission denied/ },
  { name: 'ALTER ROLE self REPLICATION', sql: (s) => [`ALTER ROLE ${ROLE[s]} REPLICATION`], refused: /must be superuser|permission denied/ },
  { name: 'GRANT autoheal_owner to itself', sql: (s) => [`GRANT autoheal_owner TO ${ROLE[s]}`], refused: /must have admin option|permission denied/ },
  { name: 'ALTER DATABASE', sql: (_s, database) => [`ALTER DATABASE ${database} SET session_replication_role = replica`], refused: /must be owner of database|permission denied/ },
  { name: 'COPY TO PROGRAM', sql: () => [`COPY (SELECT 1) TO PROGRAM 'true'`], refused: /pg_execute_server_program|must be superuser|permission denied to COPY to or from an external program/ },
  { name: 'read a server file', sql: () => [`SELECT pg_read_file('/etc/passwd')`], refused: /permission denied for function pg_read_file/ },
];

/** Reading and writing each other service's schema. */
const CROSS_SCHEMA: (Attack & { other: Service })[] = SERVICES.flatMap((other) => [
  { name: `read ${other}'s inbox`, sql: () => [`SELECT * FROM ${other}.inbox LIMIT 1`], refused: new RegExp(`permission denied for schema ${other}`), other },
  {
    name: `write ${other}'s inbox`,
    sql: () => [`INSERT INTO ${other}.inbox (consumer, event_id) VALUES ('mallory', 'forged')`],
    refused: new RegExp(`permission denied for schema ${other}`),
    other,
  },
]);

describe('Postgres roles cannot be escalated (each service role, real Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let admin: Client;
  let auditor: RunningAuditor;
  const roles = new Map<Service, Client>();
  let before: Snapshot;

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url });
    // Something worth attacking: a chain written by the auditor as its role, a tenant key, a tenant version.
    const service = auditor.app.get(AuditLogService);
    for (let i = 0; i < 3; i++) {
      const event = incidentOpened(VICTIM, randomUUID(), `api-${i}`);
      await service.recordEvent(event, { subject: subjectFor(event) });
    }
    await admin.query(
      `INSERT INTO auditor.api_keys (id, key_hash, subject, roles, tenant_scope, label, origin, created_by) VALUES ($1, repeat('c', 64), 'victim', ARRAY['viewer'], ARRAY[$2], 'victim key', 'api', 'admin')`,
      [TENANT_KEY_ID, VICTIM],
    );
    await admin.query(
      `INSERT INTO auditor.api_keys (id, key_hash, subject, roles, tenant_scope, label, origin, created_by, expires_at, revoked_at)
       VALUES ($1, repeat('d', 64), 'former', ARRAY['admin'], NULL, 'revoked key', 'api', 'admin', now() + interval '1 day', now())`,
      [REVOKED_KEY_ID],
    );
    await admin.query(`INSERT INTO decision.tenant_versions (tenant_id, version, document, applied_at, applied_by) VALUES ($1, 'v1', '{}', now(), 'ops')`, [VICTIM]);
    for (const s of SERVICES) {
      const client = new Client({ connectionString: db.roleUrl(s) });
      client.on('error', () => undefined);
      await client.connect();
      roles.set(s, client);
    }
    before = await snapshot(admin);
    expect(before.auditRows).toHaveLength(3);
  });

  afterAll(async () => {
    for (const client of roles.values()) await client.end().catch(() => undefined);
    await auditor?.stop();
    await admin?.end();
    await db?.drop();
    await nats?.stop();
  });

  it.each(SERVICES)('%s logs in as its own role: no superuser, no role or database creation, no RLS bypass, no replication, no memberships', async (s) => {
    const { rows } = await roles.get(s)!.query<{ user: string; session: string }>('SELECT current_user AS user, session_user AS session');
    expect(rows[0]).toEqual({ user: ROLE[s], session: ROLE[s] });
    const role = before.roles.find((r) => r.rolname === ROLE[s]);
    expect(role).toEqual({ rolname: ROLE[s], rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false, rolreplication: false, rolcanlogin: true, rolinherit: true, rolconfig: null });
    expect(before.memberships.filter((m) => m.member === ROLE[s])).toEqual([]);
  });

  describe.each(SERVICES)('as %s', (s) => {
    it.each(ATTACKS.filter((a) => !a.except?.includes(s)).map((a) => [a.name, a] as const))('refuses %s, without effect', async (_name, attack) => {
      await expectRefusedWithoutEffect(s, attack);
    });

    it.each(CROSS_SCHEMA.filter((a) => a.other !== s).map((a) => [a.name, a] as const))('refuses to %s, without effect', async (_name, attack) => {
      await expectRefusedWithoutEffect(s, attack);
    });
  });

  it('refuses UPDATE, DELETE and TRUNCATE of tenant_versions (append-only) to the decision role', async () => {
    for (const sql of [`UPDATE decision.tenant_versions SET applied_by = 'mallory'`, 'DELETE FROM decision.tenant_versions', 'TRUNCATE decision.tenant_versions']) {
      await expectRefusedWithoutEffect('decision', { name: sql, sql: () => [sql], refused: /permission denied for table tenant_versions/ });
    }
  });

  async function expectRefusedWithoutEffect(s: Service, attack: Attack): Promise<void> {
    const client = roles.get(s)!;
    const statements = attack.sql(s, db.name);
    for (const sql of statements.slice(0, -1)) await client.query(sql);
    const outcome = await client.query(statements[statements.length - 1]).then(
      (result) => ({ refused: false as const, result: { command: result.command, rowCount: result.rowCount } }),
      (error: Error) => ({ refused: true as const, message: error.message }),
    );
    // On failure, the message says what happened instead of the refusal.
    expect(outcome).toEqual({ refused: true, message: expect.stringMatching(attack.refused) as unknown });
    const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
    expect(rows[0].user).toBe(ROLE[s]);
    expect(await snapshot(admin)).toEqual(before);
  }

  describe('the auditor, as its role, still appends through the database function', () => {
    it('ignores chain fields smuggled into an entry: the database picks seq, prev_hash and hash', async () => {
      const head = before.auditRows[before.auditRows.length - 1];
      const { rows } = await roles.get('auditor')!.query<{ appended_seq: string; appended_hash: string }>(
        `SELECT * FROM auditor.append_audit_entry($1, 'smuggled', 'remediation.succeeded', now(), 'executor', 'restart.execute', 'success',
           '{"seq": 1}'::jsonb, 'test', NULL, NULL, NULL, $2::jsonb)`,
        [VICTIM, JSON.stringify({ seq: 1, prev_hash: '0'.repeat(64), hash: 'a'.repeat(64) })],
      );
      expect(rows).toHaveLength(1);
      expect(Number(rows[0].appended_seq)).toBe(head.seq + 1);
      const stored = await admin.query<{ seq: string; prev_hash: string; hash: string }>(`SELECT seq, prev_hash, hash FROM auditor.audit_log WHERE event_id = 'smuggled'`);
      expect(stored.rows[0]).toEqual({ seq: String(head.seq + 1), prev_hash: head.hash, hash: rows[0].appended_hash });
      expect(rows[0].appended_hash).not.toBe('a'.repeat(64));
    });

    it('records events, and verify names the row appended past the service: well chained, but not sealed', async () => {
      const service = auditor.app.get(AuditLogService);
      const event = incidentOpened(VICTIM);
      expect(await service.recordEvent(event, { subject: subjectFor(event) })).toBe('appended');
      const response = await fetch(`${auditor.baseUrl}/v1/tenants/${VICTIM}/audit/verify`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
      const body = (await response.json()) as { ok: boolean; checkedRows: number; firstBreak: unknown };
      // The role's own call of append_audit_entry above (seq 4) has no seal: whoever holds the
      // service's database credentials can append, but not as the auditor.
      expect({ status: response.status, ...body }).toMatchObject({ status: 200, ok: false, checkedRows: 5, firstBreak: { seq: 4, reason: 'unsealed_row' } });
    });
  });
});

interface Snapshot {
  auditRows: { tenant_id: string; seq: number; event_id: string; actor: string; prev_hash: string; hash: string; payload: string }[];
  apiKeys: unknown[];
  tenantVersions: unknown[];
  roles: { rolname: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; rolbypassrls: boolean; rolreplication: boolean; rolcanlogin: boolean; rolinherit: boolean; rolconfig: string[] | null }[];
  memberships: { member: string; granted: string }[];
  triggers: unknown[];
  functions: unknown[];
  relations: unknown[];
  schemas: unknown[];
  counts: unknown[];
}

/** Everything an attack could have changed, read as the administrator. */
async function snapshot(admin: Client): Promise<Snapshot> {
  const q = async <T>(sql: string): Promise<T[]> => (await admin.query(sql)).rows as T[];
  return {
    auditRows: (await q<Snapshot['auditRows'][number] & { seq: string }>(
      `SELECT tenant_id, seq, event_id, actor, prev_hash, hash, payload::text AS payload FROM auditor.audit_log ORDER BY tenant_id, seq`,
    )).map((r) => ({ ...r, seq: Number(r.seq) })),
    apiKeys: await q(`SELECT * FROM auditor.api_keys ORDER BY id`),
    tenantVersions: await q(`SELECT * FROM decision.tenant_versions ORDER BY seq`),
    roles: await q(
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, rolcanlogin, rolinherit, rolconfig FROM pg_roles WHERE rolname LIKE 'autoheal\\_%' ORDER BY rolname`,
    ),
    memberships: await q(
      `SELECT r.rolname AS member, g.rolname AS granted FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid
       WHERE r.rolname LIKE 'autoheal\\_%' OR g.rolname LIKE 'autoheal\\_%' ORDER BY 1, 2`,
    ),
    triggers: await q(`SELECT tgrelid::regclass::text AS rel, tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`),
    functions: await q(
      `SELECT p.oid::regprocedure::text AS fn, pg_get_userbyid(p.proowner) AS owner, md5(p.prosrc) AS src, p.prosecdef, p.proconfig, p.proacl::text AS acl
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'auditor', 'detector', 'decision', 'executor') ORDER BY 1`,
    ),
    relations: await q(
      `SELECT c.oid::regclass::text AS rel, pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl,
              (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'auditor', 'detector', 'decision', 'executor') ORDER BY 1`,
    ),
    schemas: await q(`SELECT nspname, pg_get_userbyid(nspowner) AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' ORDER BY 1`),
    counts: await q(
      `SELECT (SELECT count(*) FROM auditor.inbox) AS auditor_inbox, (SELECT count(*) FROM detector.inbox) AS detector_inbox,
              (SELECT count(*) FROM decision.inbox) AS decision_inbox, (SELECT count(*) FROM executor.inbox) AS executor_inbox,
              (SELECT count(*) FROM detector.incidents) AS incidents, (SELECT count(*) FROM decision.tenants) AS tenants,
              (SELECT count(*) FROM executor.executions) AS executions,
              (SELECT count(*) FROM detector.migrations) + (SELECT count(*) FROM decision.migrations) + (SELECT count(*) FROM executor.migrations) + (SELECT count(*) FROM auditor.migrations) AS migrations`,
    ),
  };
}
