import { Test } from '@nestjs/testing';
import type { INestApplication } from '@nestjs/common';
import { HealthCheckRegistry } from './health-check.registry';
import { createCounter } from './metrics';
import { ObservabilityModule } from './observability.module';

describe('ObservabilityModule', () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ObservabilityModule.forRoot({ service: 'unit-svc' })] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });
  afterAll(() => app.close());

  it('GET /health/ready (and its older name /health) is 200 while every check passes and 503 naming the failing one; /health/live stays 200', async () => {
    const registry = app.get(HealthCheckRegistry);
    registry.register('postgres', async () => true);
    for (const path of ['/health/ready', '/health']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', checks: { postgres: { ok: true } } });
    }

    registry.register('nats', async () => ({ ok: false, detail: 'connection closed' }));
    for (const path of ['/health/ready', '/health']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'error', checks: { postgres: { ok: true }, nats: { ok: false, detail: 'connection closed' } } });
    }
    // A dependency outage must not get the process restarted: liveness runs no check.
    let liveChecks = 0;
    registry.register('counted', () => (liveChecks++, false));
    const live = await fetch(`${base}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    expect(liveChecks).toBe(0);
  });

  it('GET /metrics serves the shared registry with default Node metrics and the service label', async () => {
    createCounter({ name: 'autoheal_unit_things_total', help: 'things' }).inc(2);
    // Creating it again returns the registered counter instead of throwing.
    createCounter({ name: 'autoheal_unit_things_total', help: 'things' }).inc();
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('autoheal_unit_things_total{service="unit-svc"} 3');
    expect(text).toMatch(/process_cpu_user_seconds_total\{service="unit-svc"\}/);
  });
});
