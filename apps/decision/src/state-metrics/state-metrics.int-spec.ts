import { newEvent, newEventId, STREAMS } from '@autoheal/contracts';
import type { MetricValueWithName } from 'prom-client';
import { metricsRegistry } from '@autoheal/telemetry';
import { expectEventually, publishSigned } from '@autoheal/testing';
import type { Clock } from '../clock.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { startDecisionTestApp, FLEET_BREAKER_OFF, type DecisionTestApp } from '../test-support/decision-test-app.js';
import { apiTenantDoc, approvalGatedTenantDoc, incidentOpenedNow } from '../test-support/test-documents.js';
import { StateMetricsSampler } from './state-metrics.sampler.js';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';

const MIN = 60_000;

/** The value a scrape of /metrics shows for `name` with exactly these labels (beside `service`). */
async function scraped(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await metricsRegistry.getSingleMetric(name)?.get();
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want) && Object.keys(v.labels).filter((k) => k !== 'service').length === Object.keys(labels).length);
  return value?.value;
}

describe('decision state gauges: breakers, approvals waiting, availability against target (real Postgres and nats-server)', () => {
  let env: DecisionTestApp & { nc: NatsConnection; jsm: JetStreamManager };
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock: Clock = { now: () => new Date(now) };

  beforeAll(async () => {
    env = await startDecisionTestApp({
      documents: [approvalGatedTenantDoc('bank'), apiTenantDoc('shop', 2)],
      natsClient: 'state-metrics-test',
      clock,
      consume: true,
      env: { ...FLEET_BREAKER_OFF, DECISION_AVAILABILITY_WINDOW_MS: String(24 * 60 * MIN) },
    });
  });

  afterAll(async () => {
    await env?.stop();
  });

  async function handled(seq: number): Promise<void> {
    await expectEventually(async () => {
      const info = await env.jsm.consumers.info(STREAMS.incidents.name, INCIDENTS_CONSUMER.durable);
      expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(seq);
      expect(info.num_ack_pending).toBe(0);
    }, { timeoutMs: 30_000 });
  }

  it('samples what the tables hold and sets a series per tenant', async () => {
    // bank: a hang whose replacement PCI DSS puts behind an approval.
    const hang = incidentOpenedNow('bank', 'api-7', { detectedAt: new Date(now).toISOString(), signalAt: new Date(now).toISOString() });
    await handled(await publishSigned(env.nc, env.keys, hang));
    // shop: api-1 crashed for 144 minutes of the day, resolved; one of two instances: 5 % of the day.
    const incidentId = newEventId();
    const meta = { tenantId: 'shop', producer: 'detector', correlationId: incidentId };
    const from = now - 200 * MIN;
    const to = from + 144 * MIN;
    await publishSigned(env.nc, env.keys, newEvent('incident.opened', { ...meta, occurredAt: new Date(from), data: { incidentId, service: 'api', instance: 'api-1', kind: 'crashed', severity: 'critical', signalAt: new Date(from).toISOString(), detectedAt: new Date(from).toISOString(), detectionLatencyMs: 1, evidence: {} } }));
    await handled(
      await publishSigned(env.nc, env.keys, newEvent('incident.resolved', { ...meta, occurredAt: new Date(to), data: { incidentId, service: 'api', instance: 'api-1', kind: 'crashed', resolvedAt: new Date(to).toISOString(), reason: 'restarted', durationMs: to - from } })),
    );
    // shop's breaker opened (as a storm would have it).
    await env.pg.query(`INSERT INTO decision.tenant_breakers (tenant_id, open, reason, opened_at) VALUES ('shop', true, 'storm', now())`);

    now += 10 * MIN;
    const figures = await env.app.get(StateMetricsSampler).sample();

    expect(await scraped('autoheal_decision_pending_approvals', { tenant: 'bank' })).toBe(1);
    expect(await scraped('autoheal_decision_pending_approvals', { tenant: 'shop' })).toBe(0);
    // Decided at the test clock's time, sampled ten minutes later.
    expect(await scraped('autoheal_decision_oldest_pending_approval_age_seconds', { tenant: 'bank' })).toBe(600);
    expect(await scraped('autoheal_decision_tenant_breaker_open', { tenant: 'shop' })).toBe(1);
    expect(await scraped('autoheal_decision_tenant_breaker_open', { tenant: 'bank' })).toBe(0);
    expect(await scraped('autoheal_decision_breaker_open', {})).toBe(0);
    expect(await scraped('autoheal_decision_service_availability_ratio', { tenant: 'shop', tenant_service: 'api' })).toBeCloseTo(0.95, 9);
    expect(await scraped('autoheal_decision_availability_target_ratio', { tenant: 'shop' })).toBe(0.999);
    expect(await scraped('autoheal_decision_availability_target_ratio', { tenant: 'bank' })).toBe(0.9995);
    expect(figures.availability.find((a) => a.tenant === 'bank')?.ratio).toBeLessThan(1);

    // The approval is given up by the incident resolving: the next sample shows nothing waiting.
    const resolved = newEvent('incident.resolved', {
      tenantId: 'bank',
      producer: 'detector',
      correlationId: hang.data.incidentId,
      data: { incidentId: hang.data.incidentId, service: 'api', instance: 'api-7', kind: 'heartbeat_missed', resolvedAt: new Date(now).toISOString(), reason: 'heartbeats resumed', durationMs: 10 * MIN },
    });
    await handled(await publishSigned(env.nc, env.keys, resolved));
    await env.app.get(StateMetricsSampler).sample();
    expect(await scraped('autoheal_decision_pending_approvals', { tenant: 'bank' })).toBe(0);
    expect(await scraped('autoheal_decision_oldest_pending_approval_age_seconds', { tenant: 'bank' })).toBe(0);
  });

  it('times each first decision from the incident’s detection', async () => {
    const before = await latencyCount('await_approval');
    const detectedAt = new Date(now - 2_000).toISOString();
    await handled(await publishSigned(env.nc, env.keys, incidentOpenedNow('bank', 'api-9', { detectedAt, signalAt: detectedAt })));
    expect((await latencyCount('await_approval')) - before).toBe(1);
    const sum = (await metricsRegistry.getSingleMetric('autoheal_decision_decision_latency_seconds')?.get())?.values.find((v) => (v as MetricValueWithName<string>).metricName === 'autoheal_decision_decision_latency_seconds_sum' && v.labels.outcome === 'await_approval');
    expect(sum?.value).toBeGreaterThanOrEqual(2);
  });
});

async function latencyCount(outcome: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('autoheal_decision_decision_latency_seconds')?.get();
  return metric?.values.find((v) => (v as MetricValueWithName<string>).metricName === 'autoheal_decision_decision_latency_seconds_count' && v.labels.outcome === outcome)?.value ?? 0;
}
