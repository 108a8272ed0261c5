/**
 * People's credentials end to end, with the whole system as processes on a TLS + NKey
 * nats-server: keys are created and revoked through the CLI at the auditor (never by writing a
 * database), reach the decision service through the API_KEYS bucket, carry roles and a tenant
 * scope there, and stop working there within a bounded wait after a revoke.
 */
import { run } from '../../apps/decision/src/cli/run-cli';
import { expectEventually } from '@autoheal/testing';
import { OPS_KEY, startSecuritySystem, TENANT, type SecuritySystem } from './security-system';

describe('people’s credentials across the auditor and the decision service (whole system)', () => {
  let sys: SecuritySystem;
  let auditorUrl: string;
  let decisionUrl: string;

  /** `npm run autoheal -- …` in-process, as an admin holding the auditor's bootstrap key. */
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
    sys = await startSecuritySystem(['p-1']);
    auditorUrl = `http://127.0.0.1:${sys.system.ports.auditor}`;
    decisionUrl = `http://127.0.0.1:${sys.system.ports.decision}`;
  });

  afterAll(async () => {
    await sys?.stop();
  });

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
