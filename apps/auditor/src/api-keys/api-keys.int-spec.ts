import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createTestDatabase, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { startAuditor, type RunningAuditor } from '../test-support/auditor';

const run = promisify(execFile);
const CLI = join(__dirname, '..', '..', 'dist', 'api-keys.cli.js');

describe('API keys (real Postgres, the auditor as its own role)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let auditor: RunningAuditor | undefined;
  const OLD_OPS = 'ops_rotation_old_0123456789';
  const NEW_OPS = 'ops_rotation_new_0123456789';
  const TENANT = 'tnt_rotation_tenant_0123456789';

  const status = async (key: string, tenant = 'acme') =>
    (await fetch(`${auditor!.baseUrl}/v1/tenants/${tenant}/audit`, { headers: { authorization: `Bearer ${key}` } })).status;

  const cli = async (args: string[], url: string) => {
    const { stdout } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_MIGRATION_URL: url } });
    return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  };

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterEach(async () => {
    await auditor?.stop();
    auditor = undefined;
  });

  afterAll(async () => {
    await pg?.end();
    await db?.drop();
    await nats?.stop();
  });

  it('holds the environment keys in memory: nothing stored, and a key removed from the environment stops working at the next boot', async () => {
    auditor = await startAuditor({
      databaseUrl: db.roleUrl('auditor'),
      natsUrl: nats.url,
      extraEnv: { AUDITOR_OPS_API_KEY: OLD_OPS, AUDITOR_TENANT_API_KEYS: `acme=${TENANT}` },
    });
    expect(await status(OLD_OPS)).toBe(200);
    expect(await status(TENANT)).toBe(200);
    expect((await pg.query('SELECT * FROM auditor.api_keys')).rows).toEqual([]);
    await auditor.stop();

    // Rotated ops key; the tenant key moved to another tenant.
    auditor = await startAuditor({
      databaseUrl: db.roleUrl('auditor'),
      natsUrl: nats.url,
      extraEnv: { AUDITOR_OPS_API_KEY: NEW_OPS, AUDITOR_TENANT_API_KEYS: `globex=${TENANT}` },
    });
    expect(await status(OLD_OPS)).toBe(401);
    expect(await status(NEW_OPS)).toBe(200);
    expect(await status(TENANT, 'acme')).toBe(403);
    expect(await status(TENANT, 'globex')).toBe(200);
  });

  it('creates and revokes keys with the CLI as the owner role; the auditor reads them; its own role may not write them', async () => {
    const [created] = await cli(['create', '--scope', 'tenant', '--tenant', 'acme', '--label', 'acme SIEM'], db.roleUrl('owner'));
    expect(created).toMatchObject({ scope: 'tenant', tenantId: 'acme' });
    const key = String(created.key);
    const stored = JSON.stringify((await pg.query('SELECT * FROM auditor.api_keys')).rows);
    expect(stored).not.toContain(key);

    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url });
    expect(await status(key, 'acme')).toBe(200);
    expect(await status(key, 'globex')).toBe(403);

    // The CLI with the auditor's own URL is refused by the database, and changes nothing.
    const before = (await pg.query('SELECT * FROM auditor.api_keys ORDER BY id')).rows;
    await expect(cli(['create', '--scope', 'ops'], db.roleUrl('auditor'))).rejects.toThrow(/permission denied for table api_keys/);
    await expect(cli(['revoke', String(created.id)], db.roleUrl('auditor'))).rejects.toThrow(/permission denied for table api_keys/);
    expect((await pg.query('SELECT * FROM auditor.api_keys ORDER BY id')).rows).toEqual(before);

    expect(await cli(['revoke', String(created.id)], db.roleUrl('owner'))).toEqual([{ id: created.id, revoked: true }]);
    expect(await status(key, 'acme')).toBe(401);
  });
});
