import { type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { newEvent, newEventId, STREAMS, type Envelope } from '@autoheal/contracts';
import { expectEventually, readStream, publishSigned } from '@autoheal/testing';
import type { Clock } from '../clock.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { documentVersion, tenantDocumentSchema } from '../planning/policy-port.js';
import { FLEET_BREAKER_OFF, startDecisionTestEnv, type BootedApp, type DecisionTestEnv } from '../test-support/decision-test-app.js';
import { AvailabilityCheckService } from './availability-check.service.js';

const SEC = 1000;
const MIN = 60 * SEC;
const DAY = 24 * 60 * MIN;
/** HIPAA, 99.9 % over one day: 86.4 s of service downtime allowed. */
const WINDOW_MS = DAY;

const instances = (service: string) => [1, 2].map((n) => ({ instance: `${service}-${n}`, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' as const }));

const CLINIC = tenantDocumentSchema.parse({
  apiVersion: 'autoheal/v1',
  tenantId: 'clinic',
  frameworks: ['HIPAA'],
  // Nothing automatic: the decisions taken on these incidents play no part here.
  overrides: { autoActions: [], approvalActions: [] },
  inventory: { services: [{ service: 'api', instances: instances('api') }, { service: 'portal', instances: instances('portal') }] },
});

describe('availability compliance events (real Postgres and nats-server)', () => {
  let env: DecisionTestEnv & { nc: NatsConnection; jsm: JetStreamManager };
  let booted: BootedApp;
  let pg: Client;
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock: Clock = { now: () => new Date(now) };
  const iso = (ms: number) => new Date(ms).toISOString();

  const boot = async () => (booted = await env.boot({ clock, consume: true }));
  const check = () => booted.app.get(AvailabilityCheckService).check();

  async function publish(event: Envelope): Promise<number> {
    return publishSigned(env.nc, env.keys, event);
  }

  /** Every incident event up to `seq` was handled and acknowledged. */
  async function handled(seq: number): Promise<void> {
    await expectEventually(async () => {
      const info = await env.jsm.consumers.info(STREAMS.incidents.name, INCIDENTS_CONSUMER.durable);
      expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(seq);
      expect(info.num_ack_pending).toBe(0);
    }, { timeoutMs: 15_000 });
  }

  /** Publishes an incident on `instance` of `service` that opened at `from` and, unless `to` is null, resolved at `to`. */
  async function incident(service: string, instance: string, from: number, to: number | null, options: { kind?: 'crashed' | 'predicted' | 'heartbeat_missed'; suspectedLater?: boolean } = {}): Promise<string> {
    const incidentId = newEventId();
    const kind = options.kind ?? 'crashed';
    const meta = { tenantId: 'clinic', producer: 'detector', correlationId: incidentId };
    let seq = await publish(
      newEvent('incident.opened', {
        ...meta,
        occurredAt: new Date(from),
        data: { incidentId, service, instance, kind, severity: 'critical', signalAt: iso(from), detectedAt: iso(from), detectionLatencyMs: 1, evidence: {} },
      }),
    );
    if (options.suspectedLater) {
      seq = await publish(newEvent('incident.updated', { ...meta, data: { incidentId, service, instance, kind, severity: 'critical', evidence: {}, suspectedCause: 'detector_or_network' } }));
    }
    if (to !== null) {
      seq = await publish(
        newEvent('incident.resolved', { ...meta, occurredAt: new Date(to), data: { incidentId, service, instance, kind, resolvedAt: iso(to), reason: 'heartbeats resumed', durationMs: to - from } }),
      );
    }
    await handled(seq);
    return incidentId;
  }

  async function stateOf(service: string) {
    const { rows } = await pg.query<{ breached_at: Date | null; availability: number }>(`SELECT breached_at, availability FROM decision.service_availability WHERE tenant_id = 'clinic' AND service = $1`, [service]);
    return rows[0];
  }

  beforeAll(async () => {
    env = await startDecisionTestEnv({
      prefix: 'availability-test-',
      documents: [CLINIC],
      env: { ...FLEET_BREAKER_OFF, DECISION_AVAILABILITY_WINDOW_MS: String(WINDOW_MS) },
      natsClient: 'decision-availability-test',
    });
    pg = env.pg;
    await boot();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('reports a service below its target once, across a restart, and a new breach only after it recovered', async () => {
    // One of api's two instances down 4 minutes: 2 minutes of service downtime, over the 86.4 s allowed.
    await incident('api', 'api-1', now - 10 * MIN, now - 6 * MIN);
    const [breach, ...others] = await check();
    expect(others).toEqual([]);
    expect(breach).toMatchObject({
      type: 'compliance.breach',
      tenantId: 'clinic',
      producer: 'decision',
      correlationId: null,
      data: { rule: 'availability', service: 'api', threshold: 0.999, windowMs: WINDOW_MS, policyVersion: documentVersion(CLINIC) },
    });
    expect(breach.data.observed).toBeCloseTo(1 - (2 * MIN) / DAY, 9);
    expect(breach.data.reason).toMatch(/^service api was available 99\.8611 % over the last 1 days, below the availability target 99\.9 % \(HIPAA\)/);
    expect(await stateOf('api')).toMatchObject({ breached_at: new Date(now) });

    // The auditor reads it from the COMPLIANCE stream.
    await expectEventually(async () => {
      const stored = await readStream<Envelope>(env.nc, STREAMS.compliance.name);
      expect(stored.filter((e) => e.id === breach.id)).toHaveLength(1);
    });

    // The same breach is not reported again, by this process or the next one.
    now += MIN;
    expect(await check()).toEqual([]);
    await booted.close();
    await boot();
    now += MIN;
    expect(await check()).toEqual([]);

    // A day later the downtime has left the window: recovered, silently.
    now += DAY;
    expect(await check()).toEqual([]);
    expect(await stateOf('api')).toMatchObject({ breached_at: null, availability: 1 });

    // Down again, past the budget: a new breach.
    await incident('api', 'api-2', now - 5 * MIN, now - 1 * MIN);
    expect((await check()).map((e) => [e.data.rule, e.data.service])).toEqual([['availability', 'api']]);
  });

  it('reports nothing while downtime stays within the budget, counting neither forecasts nor suspected detector faults', async () => {
    // portal-1 down 2 minutes: 60 s of service downtime, under the 86.4 s allowed.
    await incident('portal', 'portal-1', now - 20 * MIN, now - 18 * MIN);
    // Half an hour each on portal-2 that would breach if they counted: a forecast, and an incident
    // the detector marked afterwards as a suspected detector or network fault.
    await incident('portal', 'portal-2', now - 60 * MIN, now - 30 * MIN, { kind: 'predicted' });
    await incident('portal', 'portal-2', now - 60 * MIN, null, { kind: 'heartbeat_missed', suspectedLater: true });

    expect((await check()).filter((e) => e.data.service === 'portal')).toEqual([]);
    const state = await stateOf('portal');
    expect(state.breached_at).toBeNull();
    expect(state.availability).toBeCloseTo(1 - MIN / DAY, 9);

    // Only what may still lower availability keeps a service under watch: the open suspected incident.
    const { rows } = await pg.query<{ instance: string; kind: string; settled: boolean }>(
      `SELECT instance, kind, settled_at IS NOT NULL AS settled FROM decision.incident_downtime WHERE tenant_id = 'clinic' AND service = 'portal' ORDER BY down_since, kind`,
    );
    expect(rows).toEqual([
      { instance: 'portal-2', kind: 'heartbeat_missed', settled: false },
      { instance: 'portal-2', kind: 'predicted', settled: true },
      { instance: 'portal-1', kind: 'crashed', settled: true },
    ]);
  });
});
