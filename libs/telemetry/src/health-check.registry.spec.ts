import { HealthCheckRegistry, runHealthCheck, type HealthCheck } from './health-check.registry';

describe('runHealthCheck', () => {
  it.each<[string, HealthCheck, object]>([
    ['true', () => true, { ok: true }],
    ['false', () => false, { ok: false }],
    ['object ok', async () => ({ ok: true, detail: { lagMs: 3 } }), { ok: true, detail: { lagMs: 3 } }],
    ['object failed', async () => ({ ok: false, detail: 'closed' }), { ok: false, detail: 'closed' }],
    ['throws', async () => { throw new Error('ECONNREFUSED'); }, { ok: false, detail: 'ECONNREFUSED' }],
  ])('%s', async (_name, check, expected) => {
    const outcome = await runHealthCheck(check, 1_000);
    expect(outcome).toMatchObject(expected);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('fails a check that does not answer in time', async () => {
    const outcome = await runHealthCheck(() => new Promise<boolean>(() => undefined), 20);
    expect(outcome).toMatchObject({ ok: false, detail: 'timed out after 20 ms' });
  });
});

describe('HealthCheckRegistry', () => {
  it('is ok only when every check passes', async () => {
    const registry = new HealthCheckRegistry();
    registry.register('postgres', async () => true);
    expect(await registry.run()).toMatchObject({ status: 'ok', checks: { postgres: { ok: true } } });
    registry.register('nats', () => ({ ok: false, detail: 'connection closed' }));
    expect(await registry.run()).toMatchObject({ status: 'error', checks: { postgres: { ok: true }, nats: { ok: false, detail: 'connection closed' } } });
  });

  it('is ok with no checks (a process that depends on nothing)', async () => {
    expect(await new HealthCheckRegistry().run()).toEqual({ status: 'ok', checks: {} });
  });
});
