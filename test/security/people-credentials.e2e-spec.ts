/**
 * People's credentials end to end, with the whole system as processes on a TLS + NKey
 * nats-server: keys are created and revoked through the CLI at the auditor (never by writing a
 * database), reach the decision service through the API_KEYS bucket, carry roles and a tenant
 * scope there, and stop working there within a bounded wait after a revoke.
 */
import { run } from '../../apps/cli/src/program';
import { expectEventually } from '@autoheal/testing';
import { OPS_KEY, startSecuritySystem, TENANT, type SecuritySystem } from './security-system';

describe('people’s credentials across the auditor and the decision service (whole system)', () => {
  let sys: SecuritySystem;
  let auditorUrl: string;
  let decisionUrl: string;

  /** `npx autoheal …` in-process, as an admin holding the auditor's bootstrap key. */
  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, { AUDITOR_OPS_API_KEY: OPS_KEY, AUTOHEAL_AUDITOR_URL: auditorUrl }, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => new Date() });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  async function createKey(subject: string, roles: string, tenants: string): Promise<{ id: string; key: string }> {
    const created = await cli(['api-keys', 'create', '--subject', subject, '--roles', roles, '--tenants', tenants, '--json']);
    if (created.code !== 0) throw new Error(`api-keys create failed: ${created.err}`);
    return JSON.parse(created.out) as { id: string; key: string };
  }

  const status = async (url: string, key: string, method = 'GET', body?: unknown) =>
    (
      await fetch(url, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    ).status;

  beforeAll(async () => {
    // Refusals are recorded per window of 10 s here (1 min by default): a flood falls in one.
    sys = await startSecuritySystem(['p-1'], { env: { DECISION_REFUSAL_WINDOW_MS: '10000' } });
    auditorUrl = `http://127.0.0.1:${sys.system.ports.auditor}`;
    decisionUrl = `http://127.0.0.1:${sys.system.ports.decision}`;
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it("a flood of forged keys at the decision admin API is one access.refused row in the system trail, and none in any tenant's", async () => {
    const forged = `ahk_${'f'.repeat(40)}`;
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => status(`${decisionUrl}/v1/admin/${i % 2 ? `tenants/${TENANT}` : 'breaker'}`, forged)));
    expect(new Set(statuses)).toEqual(new Set([401]));
    type Refused = { tenant_id: string; actor: string; action: string; outcome: string; count: number };
    const refusedRows = async () =>
      (
        await sys.pg.query<Refused>(
          `SELECT tenant_id, actor, action, outcome, (payload->'data'->>'count')::int AS count FROM auditor.audit_log
            WHERE event_type = 'access.refused' AND resource->>'api' = 'decision admin API' ORDER BY seq`,
        )
      ).rows;
    await expectEventually(async () => expect(await refusedRows()).not.toEqual([]), { timeoutMs: 90_000, intervalMs: 500 });
    expect(await refusedRows()).toEqual([{ tenant_id: '@system', actor: expect.stringMatching(/^address .*127\.0\.0\.1$/) as string, action: 'api.authenticate', outcome: 'refused', count: 200 }]);
    // Nothing was written about the refusals in any tenant's trail, the one the requests named included.
    const inTenants = await sys.pg.query(`SELECT tenant_id, event_type FROM auditor.audit_log WHERE tenant_id <> '@system' AND (event_type LIKE 'access.%' OR event_type LIKE 'security.%')`);
    expect(inTenants.rows).toEqual([]);
  }, 180_000);

  it('a key created with the CLI works at both services within its role and scope, and a revoke stops it at both', async () => {
    const viewer = await createKey('vic@example.com', 'viewer', TENANT);
    const approver = await createKey('amy@example.com', 'approver', '*');

    // The grant reaches the decision service through the bucket.
    await expectEventually(async () => expect(await status(`${decisionUrl}/v1/admin/tenants/${TENANT}`, viewer.key)).toBe(200), { timeoutMs: 15_000 });
    expect(await status(`${auditorUrl}/v1/tenants/${TENANT}/audit`, viewer.key)).toBe(200);
    // A viewer may not resume the breaker, nor read another tenant, at either service.
    expect(await status(`${decisionUrl}/v1/admin/breaker:resume`, viewer.key, 'POST', { reason: 'x' })).toBe(403);
    expect(await status(`${decisionUrl}/v1/admin/tenants/other`, viewer.key)).toBe(403);
    expect(await status(`${auditorUrl}/v1/tenants/other/audit`, viewer.key)).toBe(403);
    // Nor manage keys.
    expect(await status(`${auditorUrl}/v1/api-keys`, viewer.key)).toBe(403);
    await expectEventually(async () => expect(await status(`${decisionUrl}/v1/admin/breaker`, approver.key)).toBe(200), { timeoutMs: 15_000 });

    const listed = await cli(['api-keys', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`${viewer.id}  vic@example.com  viewer  ${TENANT}  active`);
    expect(listed.out).not.toContain(viewer.key);

    const revoked = await cli(['api-keys', 'revoke', viewer.id]);
    expect(revoked).toMatchObject({ code: 0, err: '' });
    const revokedAt = Date.now();
    expect(await status(`${auditorUrl}/v1/tenants/${TENANT}/audit`, viewer.key)).toBe(401);
    await expectEventually(async () => expect(await status(`${decisionUrl}/v1/admin/tenants/${TENANT}`, viewer.key)).toBe(401), { timeoutMs: 5_000, intervalMs: 20 });
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    // The other key is untouched.
    expect(await status(`${decisionUrl}/v1/admin/breaker`, approver.key)).toBe(200);

    // Both changes are in the tenant's trail, by the credential that made them.
    const trail = await sys.audit('&type=access.');
    expect(trail.filter((r) => (r.payload as { apiKeyId?: string }).apiKeyId === viewer.id).map((r) => [r.eventType, r.actor])).toEqual([
      ['access.api_key_created', 'bootstrap-ops'],
      ['access.api_key_revoked', 'bootstrap-ops'],
    ]);
  });
});
