import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Client } from 'pg';

/** The owner role (migrations), a service's runtime role, or a reader role, as tools/infra/postgres-roles.js creates them. */
export type DatabaseRoleName = 'owner' | 'detector' | 'decision' | 'executor' | 'auditor' | 'auditorReader' | 'decisionReader';

export interface TestDatabase {
  /** postgres://…/<name>, as the administrator: for a test's own set-up and inspection. */
  url: string;
  name: string;
  /** The same database as `role` logs in: `roleUrl('auditor')` is what the auditor's DATABASE_URL is in production. */
  roleUrl(role: DatabaseRoleName): string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Refuses any database whose name does not say it is for tests: these helpers create and drop. */
export function assertTestDatabaseName(name: string): string {
  if (!name.toLowerCase().includes('test')) {
    throw new Error(`refusing to touch database ${JSON.stringify(name)}: its name does not contain "test"`);
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}`);
  return name;
}

/** The server the Jest global setup prepared (it exports TEST_DATABASE_ADMIN_URL for the workers). */
export function testDatabaseAdminUrl(): string {
  return process.env.TEST_DATABASE_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? DEFAULT_ADMIN_URL;
}

export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A fresh database cloned from the migrated template of this Jest run (every service schema
 * already migrated), so each test file starts from the same state in milliseconds.
 * Its name carries the run id, so the next run's setup can clean up after a crash.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = process.env.TEST_DATABASE_TEMPLATE;
  if (!template) {
    throw new Error(
      'TEST_DATABASE_TEMPLATE is not set: createTestDatabase() works in the integration and e2e Jest projects, ' +
        'whose global setup (libs/testing/jest/global-setup.js) builds the migrated template',
    );
  }
  assertTestDatabaseName(template);
  const run = process.env.AUTOHEAL_TEST_RUN ?? localRunId();
  const name = assertTestDatabaseName(`autoheal_test_${run}_${randomBytes(4).toString('hex')}`);
  const adminUrl = testDatabaseAdminUrl();

  await withAdmin(adminUrl, async (admin) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        // Database privileges are not copied from the template: the owner may create schemas
        // (migrations create theirs if missing), as in the template.
        if (process.env.TEST_DATABASE_ROLES) await admin.query(`GRANT CONNECT, CREATE ON DATABASE "${name}" TO ${testDatabaseRoles().owner.user}`);
        return;
      } catch (error) {
        // 55006: the template still had a session open (a migration process just exiting).
        if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });

  const url = databaseUrl(adminUrl, name);
  return {
    name,
    url,
    roleUrl: (role) => roleUrl(url, role),
    drop: () => dropTestDatabase(name, adminUrl),
  };
}

interface RoleLogin {
  user: string;
  password: string;
}

/** The roles' logins, exported by the Jest global setup after it created the roles. */
function testDatabaseRoles(): Record<DatabaseRoleName, RoleLogin> {
  const raw = process.env.TEST_DATABASE_ROLES;
  if (!raw) {
    throw new Error('TEST_DATABASE_ROLES is not set: the Jest global setup (libs/testing/jest/global-setup.js) creates the database roles and exports their logins');
  }
  return JSON.parse(raw) as Record<DatabaseRoleName, RoleLogin>;
}

/** `url` with the login of `role`. */
export function roleUrl(url: string, role: DatabaseRoleName): string {
  const login = testDatabaseRoles()[role];
  if (!login) throw new Error(`unknown database role ${JSON.stringify(role)}`);
  const u = new URL(url);
  u.username = login.user;
  u.password = login.password;
  return u.toString();
}

export async function dropTestDatabase(name: string, adminUrl: string = testDatabaseAdminUrl()): Promise<void> {
  assertTestDatabaseName(name);
  await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

async function withAdmin<T>(adminUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl, application_name: 'autoheal-tests' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Same shape as the run id the global setup exports: <host hash>_<pid>_<start time>. */
function localRunId(): string {
  const host = createHash('sha1').update(hostname()).digest('hex').slice(0, 6);
  return `${host}_${process.pid.toString(36)}_${Date.now().toString(36)}`;
}
