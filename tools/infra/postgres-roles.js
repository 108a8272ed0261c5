// The Postgres roles autoheal runs as, created with an admin URL before anything is migrated.
// Plain CommonJS so it runs before anything is built (npm start, npm test, the Jest global setup).
//
//   autoheal_owner      owns the service schemas and runs the migrations (DATABASE_MIGRATION_URL)
//   autoheal_<service>  one login role per service (DATABASE_URL), granted rights on its own
//                       schema by that service's migrations, and nothing else
//   autoheal_auditor_reader  the auditor API's read pool (DATABASE_READER_URL): SELECT on the
//                       tenant-scoped audit tables, under row-level security, and nothing else
//   autoheal_decision_reader the decision admin API's read pool (DATABASE_READER_URL): SELECT on
//                       the tables the admin API reads, under row-level security, and nothing else
//
// Every role is NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION and a member of no
// other role. What Postgres lets any role change about itself (its password, its session
// defaults) is set back at every run. Passwords are generated once into .autoheal/postgres-roles.json (mode 0600) and set
// at every run, as SCRAM verifiers computed here, so no password travels in a statement that a
// server log could keep. A server that trusts local connections ignores them; one that asks for
// passwords (the embedded server, production) gets them.
'use strict';
const { createHash, createHmac, pbkdf2Sync, randomBytes } = require('node:crypto');
const { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { Client } = require('pg');

const REPO_ROOT = join(__dirname, '..', '..');
const DEFAULT_ROLES_FILE = join(REPO_ROOT, '.autoheal', 'postgres-roles.json');

const OWNER_ROLE = 'autoheal_owner';
/** The service → login role table; libs/persistence names the same roles for the migrations. */
const SERVICE_ROLES = {
  detector: 'autoheal_detector',
  decision: 'autoheal_decision',
  executor: 'autoheal_executor',
  auditor: 'autoheal_auditor',
};
/**
 * Login roles for a service's reads that are not a service's own role: the auditor's REST API reads
 * through its own pool as `autoheal_auditor_reader`, the decision admin API as
 * `autoheal_decision_reader` (SELECT only, row-level security per tenant).
 */
const READER_ROLES = {
  auditorReader: 'autoheal_auditor_reader',
  decisionReader: 'autoheal_decision_reader',
};
/** `owner`, a service name or a reader name → role name. */
const ROLES = { owner: OWNER_ROLE, ...SERVICE_ROLES, ...READER_ROLES };
/** The schemas the owner owns: one per service, named after it. */
const SERVICE_SCHEMAS = Object.keys(SERVICE_ROLES);

const ROLE_ATTRIBUTES = 'LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION INHERIT';

function rolesFile() {
  return process.env.AUTOHEAL_PG_ROLES_FILE || DEFAULT_ROLES_FILE;
}

/**
 * The roles' passwords, generated on first use. Several processes may ask at once (two Jest
 * projects, `npm start` beside `npm test`): the file is created exclusively, and whoever loses
 * the race reads the winner's.
 */
function loadRolePasswords(file = rolesFile()) {
  mkdirSync(dirname(file), { recursive: true });
  if (!existsSync(file)) {
    const fresh = Object.fromEntries(Object.keys(ROLES).map((name) => [name, newPassword()]));
    try {
      writeFileSync(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
  }
  const stored = JSON.parse(readFileSync(file, 'utf8'));
  chmodSync(file, 0o600);
  const missing = Object.keys(ROLES).filter((name) => typeof stored[name] !== 'string' || stored[name].length < 16);
  if (missing.length > 0) {
    for (const name of missing) stored[name] = newPassword();
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  }
  return stored;
}

function newPassword() {
  return randomBytes(24).toString('base64url');
}

/** The verifier Postgres stores for SCRAM-SHA-256 (RFC 5802/7677), as `ALTER ROLE … PASSWORD` accepts it. */
function scramVerifier(password, salt = randomBytes(16), iterations = 4096) {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function quoteIdent(name) {
  return `"${String(name).replace(/"/g, '""')}"`;
}

async function withClient(url, fn) {
  const client = new Client({ connectionString: url, application_name: 'autoheal-roles', connectionTimeoutMillis: 10_000 });
  await client.connect();
  client.serverVersionNum = (await client.query('SHOW server_version_num')).rows[0].server_version_num;
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates the roles where missing and brings each back to what it must be: its attributes, its
 * password, and no membership in any other role (whoever granted it). Idempotent; concurrent
 * runs against one server are fine (creation tolerates losing the race).
 */
async function ensurePostgresRoles(adminUrl, { file = rolesFile() } = {}) {
  const passwords = loadRolePasswords(file);
  await withClient(adminUrl, async (admin) => {
    for (const [name, role] of Object.entries(ROLES)) {
      await admin.query(`
        DO $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
            CREATE ROLE ${role} ${ROLE_ATTRIBUTES};
          END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
          NULL;
        END
        $$`);
      await admin.query(`ALTER ROLE ${role} WITH ${ROLE_ATTRIBUTES} CONNECTION LIMIT -1 VALID UNTIL 'infinity' PASSWORD ${admin.escapeLiteral(scramVerifier(passwords[name]))}`);
      // A role may change its own session defaults (and its password, set again just above).
      await admin.query(`ALTER ROLE ${role} RESET ALL`);
      const { rows } = await admin.query(
        `SELECT g.rolname AS granted, gr.rolname AS grantor
           FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member LEFT JOIN pg_roles gr ON gr.oid = m.grantor
          WHERE r.rolname = $1`,
        [role],
      );
      // From Postgres 16 on, a membership is revoked per grantor.
      const byGrantor = Number(admin.serverVersionNum) >= 160000;
      for (const { granted, grantor } of rows) {
        const by = byGrantor && grantor ? ` GRANTED BY ${quoteIdent(grantor)}` : '';
        await admin.query(`REVOKE ${quoteIdent(granted)} FROM ${role}${by} CASCADE`);
      }
    }
  });
  return passwords;
}

/**
 * Prepares one database (`databaseUrl`, as an administrator) for the roles: the owner may connect
 * and create the service schemas; nobody else may create anything in `public`; service schemas
 * made before these roles existed (migrated as another user) are handed to the owner, with every
 * table, sequence and function in them, so the owner's migrations can change them.
 */
async function preparePostgresDatabase(databaseUrl) {
  await withClient(databaseUrl, async (db) => {
    await db.query(`DO $$ BEGIN EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO ${OWNER_ROLE}', current_database()); END $$`);
    await db.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await db.query(adoptSchemasSql(SERVICE_SCHEMAS));
  });
}

/** Both steps, for a database the project uses (`npm start`, a benchmark): returns the roles' passwords. */
async function preparePostgres(databaseUrl) {
  const passwords = await ensurePostgresRoles(databaseUrl);
  await preparePostgresDatabase(databaseUrl);
  return passwords;
}

/** ALTER … OWNER TO the owner for each service schema and what is in it, where someone else owns it. */
function adoptSchemasSql(schemas) {
  const list = `ARRAY[${schemas.map((s) => `'${s}'`).join(', ')}]`;
  return `
    DO $$
    DECLARE
      r record;
      owner oid := '${OWNER_ROLE}'::regrole;
    BEGIN
      FOR r IN SELECT nspname FROM pg_namespace WHERE nspname = ANY (${list}) AND nspowner <> owner LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO ${OWNER_ROLE}', r.nspname);
      END LOOP;
      -- Tables and views (a table takes its serial and identity sequences with it).
      FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = ANY (${list}) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relowner <> owner LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO ${OWNER_ROLE}', r.rel);
      END LOOP;
      FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = ANY (${list}) AND c.relkind = 'S' AND c.relowner <> owner
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO ${OWNER_ROLE}', r.rel);
      END LOOP;
      FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = ANY (${list}) AND p.proowner <> owner LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO ${OWNER_ROLE}', r.fn);
      END LOOP;
    END
    $$`;
}

/** `databaseUrl` with the user and password of `name` (`owner`, a service or a reader such as `auditorReader`). */
function roleUrl(databaseUrl, name, passwords = loadRolePasswords()) {
  const role = ROLES[name];
  if (!role) throw new Error(`unknown Postgres role ${JSON.stringify(name)} (expected one of ${Object.keys(ROLES).join(', ')})`);
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = passwords[name];
  return url.toString();
}

/** DATABASE_URL of each service, for `databaseUrl`'s database. */
function serviceDatabaseUrls(databaseUrl, passwords = loadRolePasswords()) {
  return Object.fromEntries(Object.keys(SERVICE_ROLES).map((service) => [service, roleUrl(databaseUrl, service, passwords)]));
}

module.exports = {
  OWNER_ROLE,
  SERVICE_ROLES,
  READER_ROLES,
  ROLES,
  SERVICE_SCHEMAS,
  ensurePostgresRoles,
  preparePostgresDatabase,
  preparePostgres,
  loadRolePasswords,
  roleUrl,
  serviceDatabaseUrls,
  scramVerifier,
};

// `node tools/infra/postgres-roles.js prepare-database <admin URL of the database>`: the database
// step alone (grants to the owner, schemas handed over), for a server whose roles an
// administrator created. `… ensure <admin URL of the database>`: roles and database, as npm start does.
if (require.main === module) {
  const [command, url] = process.argv.slice(2);
  const steps = { 'prepare-database': preparePostgresDatabase, ensure: preparePostgres };
  if (!steps[command] || !url) {
    process.stderr.write('usage: node tools/infra/postgres-roles.js <prepare-database|ensure> <postgres URL of the database, as an administrator>\n');
    process.exit(2);
  }
  steps[command](url).then(
    () => process.stdout.write(`${command}: done\n`),
    (error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}

