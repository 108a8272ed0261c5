import { Client } from 'pg';
import { createTestDatabase, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { startAuditor, type RunningAuditor } from '../test-support/auditor';

describe('API keys from the environment (real Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let auditor: RunningAuditor | undefined;
  const OLD_OPS = 'ops_rotation_old_0123456789';
  const NEW_OPS = 'ops_rotation_new_0123456789';
  const TENANT = 'tnt_rotation_tenant_0123456789';

  const status = async (key: string, tenant = 'acme') =>
    (await fetch(`${auditor!.baseUrl}/v1/tenants/${tenant}/audit`, { headers: { authorization: `Bearer ${key}` } })).status;

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
  });

  afterEach(async () => {
    await auditor?.stop();
    auditor = undefined;
  });

  afterAll(async () => {
    await db?.drop();
    await nats?.stop();
  });

  it('stores only hashes, and a key removed from the environment stops working at the next boot', async () => {
    auditor = await startAuditor({
      databaseUrl: db.url,
      natsUrl: nats.url,
      extraEnv: { AUDITOR_OPS_API_KEY: OLD_OPS, AUDITOR_TENANT_API_KEYS: `acme=${TENANT}` },
    });
    expect(await status(OLD_OPS)).toBe(200);
    expect(await status(TENANT)).toBe(200);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const stored = JSON.stringify((await pg.query('SELECT * FROM auditor.api_keys')).rows);
      expect(stored).not.toContain(OLD_OPS);
      expect(stored).not.toContain(TENANT);
    } finally {
      await pg.end();
    }
    await auditor.stop();

    // Rotated ops key; the tenant key moved to another tenant.
    auditor = await startAuditor({
      databaseUrl: db.url,
      natsUrl: nats.url,
      extraEnv: { AUDITOR_OPS_API_KEY: NEW_OPS, AUDITOR_TENANT_API_KEYS: `globex=${TENANT}` },
    });
    expect(await status(OLD_OPS)).toBe(401);
    expect(await status(NEW_OPS)).toBe(200);
    expect(await status(TENANT, 'acme')).toBe(403);
    expect(await status(TENANT, 'globex')).toBe(200);
  });
});
