import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { newEvent, newEventId, STREAMS, type Envelope, type EventType } from '@autoheal/contracts';
import { expectEventually, publishSigned, type TestKeys } from '@autoheal/testing';
import { startDecisionTestEnv, type BootedApp, type DecisionTestEnv } from '../test-support/decision-test-app.js';
import { ScaleInWorker } from './scale-in.worker.js';

const MINUTE = 60_000;
const AFTER_MS = 10 * MINUTE;
const WAIT = { timeoutMs: 30_000 };
const instances = ['api-1', 'api-2'].map((instance) => ({ instance, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }));

/** SOC 2 scales out automatically; the service runs as a Kubernetes Deployment (or on the host agent). */
function tenant(tenantId: string, runtime: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'autoheal/v1',
    tenantId,
    frameworks: ['SOC2'],
    inventory: { services: [{ service: 'api', instances, runtime, scaleOut: { maxInstances: 4, scaleInAfterMs: AFTER_MS } }] },
    playbooks: { saturation: { candidates: [{ action: 'scale_out' }] } },
  };
}

const KUBERNETES = { kind: 'kubernetes', namespace: 'prod', workload: 'Deployment', name: 'api' };
const TENANTS = ['quiet', 'noisy', 'restarted'];

describe('scale back in after a verified scale_out (real Postgres and nats-server, the services’ consumers)', () => {
  let env: DecisionTestEnv & { nc: NatsConnection; jsm: JetStreamManager };
  let booted: BootedApp;
  let pg: Client;
  let keys: TestKeys;
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock = { now: () => new Date(now) };

  beforeAll(async () => {
    env = await startDecisionTestEnv({
      prefix: 'scale-in-test-',
      natsClient: 'scale-in-test',
      documents: [...TENANTS.map((t) => tenant(t, KUBERNETES)), tenant('hosted', { kind: 'agent' })],
    });
    ({ pg, keys } = env);
    booted = await env.boot({ clock, consume: true });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  const publish = (event: Envelope) => publishSigned(env.nc, keys, event);

  function opened(tenantId: string, instance: string): Envelope<'incident.opened'> {
    const incidentId = newEventId();
    const at = new Date(now).toISOString();
    return newEvent('incident.opened', {
      tenantId,
      producer: 'detector',
      correlationId: incidentId,
      data: { incidentId, service: 'api', instance, kind: 'saturation', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 2, evidence: {} },
    });
  }

  function resolved(incident: Envelope<'incident.opened'>): Envelope<'incident.resolved'> {
    const { incidentId, service, instance, kind } = incident.data;
    return newEvent('incident.resolved', {
      tenantId: incident.tenantId,
      producer: 'detector',
      correlationId: incidentId,
      data: { incidentId, service, instance, kind, resolvedAt: new Date(now).toISOString(), reason: 'load back to normal', durationMs: 1 },
    });
  }

  function succeeded(tenantId: string, incidentId: string, remediationId: string, action: 'scale_out' | 'scale_in', instance = 'api-1'): Envelope<'remediation.succeeded'> {
    return newEvent('remediation.succeeded', {
      tenantId,
      producer: 'executor',
      correlationId: incidentId,
      data: { remediationId, incidentId, service: 'api', instance, action, durationMs: 10, details: {} },
    });
  }

  async function remediation(incidentId: string): Promise<{ remediation_id: string; status: string; action: string | null } | undefined> {
    const { rows } = await pg.query(`SELECT remediation_id, status, action FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
    return rows[0] as never;
  }

  async function scaleIn(incidentId: string): Promise<{ remediation_id: string; status: string; due_at: Date | null; verified_at: Date; reason: string } | undefined> {
    const { rows } = await pg.query(`SELECT remediation_id, status, due_at, verified_at, reason FROM decision.scale_ins WHERE incident_id = $1`, [incidentId]);
    return rows[0] as never;
  }

  /** The events of `type` about the incident that reached the REMEDIATIONS stream. */
  async function published<T extends EventType>(incidentId: string, type: T): Promise<Envelope<T>[]> {
    const name = STREAMS.remediations.name;
    const info = await env.jsm.streams.info(name);
    const out: Envelope<T>[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const event = (await env.jsm.streams.getMessage(name, { seq }))?.json<Envelope>();
      if (event?.type === type && event.correlationId === incidentId) out.push(event as Envelope<T>);
    }
    return out;
  }

  const scaleInPlans = async (incidentId: string) => (await published(incidentId, 'remediation.planned')).filter((e) => e.data.action === 'scale_in');

  /** Opens a saturation on api-1, lets the scale_out succeed, then resolves the incident: the scale_out is verified. */
  async function verifiedScaleOut(tenantId: string): Promise<{ incident: Envelope<'incident.opened'>; scaleOutId: string; verifiedAt: number }> {
    const incident = opened(tenantId, 'api-1');
    const { incidentId } = incident.data;
    await publish(incident);
    let scaleOutId = '';
    await expectEventually(async () => {
      const row = await remediation(incidentId);
      expect(row).toMatchObject({ status: 'planned', action: 'scale_out' });
      scaleOutId = row!.remediation_id;
    }, WAIT);
    now += MINUTE;
    await publish(succeeded(tenantId, incidentId, scaleOutId, 'scale_out'));
    await expectEventually(async () => expect(await remediation(incidentId)).toMatchObject({ status: 'verifying' }), WAIT);
    now += MINUTE;
    const verifiedAt = now;
    await publish(resolved(incident));
    await expectEventually(async () => {
      expect(await remediation(incidentId)).toMatchObject({ status: 'verified' });
      // Armed in the verification's transaction, with the time it is first judged.
      expect(await scaleIn(incidentId)).toMatchObject({ status: 'pending', verified_at: new Date(verifiedAt), due_at: new Date(verifiedAt + AFTER_MS) });
    }, WAIT);
    return { incident, scaleOutId, verifiedAt };
  }

  const worker = () => booted.app.get(ScaleInWorker);

  it('scale_out verified, the incident stays resolved for scaleInAfterMs: the scale-in is planned, announced and recorded when done', async () => {
    const { incident, scaleOutId, verifiedAt } = await verifiedScaleOut('quiet');
    const { incidentId } = incident.data;

    now = verifiedAt + AFTER_MS - 1;
    expect(await worker().tick()).toEqual([]);
    expect(await scaleIn(incidentId)).toMatchObject({ status: 'pending' });

    now = verifiedAt + AFTER_MS;
    const [judged] = await worker().tick();
    expect(judged).toMatchObject({ scaleOutId, incidentId, kind: 'plan' });
    const row = await scaleIn(incidentId);
    expect(row).toMatchObject({ status: 'planned', due_at: null, remediation_id: judged.remediationId });
    await expectEventually(async () => {
      const [plan] = await scaleInPlans(incidentId);
      expect(plan).toMatchObject({
        producer: 'decision',
        data: {
          remediationId: judged.remediationId,
          incidentId,
          service: 'api',
          instance: 'api-1',
          action: 'scale_in',
          runtime: KUBERNETES,
          parameters: { minInstances: 2 },
          fallbacks: [],
          inputs: { scaleOutRemediationId: scaleOutId, scaleInAfterMs: AFTER_MS },
        },
      });
      expect(plan.data.reason).toMatch(/has stayed quiet for 600000 ms: scaling back in to the 2 declared instances/);
    }, WAIT);
    // The incident's own row is untouched: it stays the verified scale_out.
    expect(await remediation(incidentId)).toMatchObject({ status: 'verified', action: 'scale_out', remediation_id: scaleOutId });
    // Judged once: a later tick plans nothing more.
    now += AFTER_MS;
    expect(await worker().tick()).toEqual([]);
    expect(await scaleInPlans(incidentId)).toHaveLength(1);

    // The executor carries it out: recorded on the scale-in's row.
    await publish(succeeded('quiet', incidentId, judged.remediationId, 'scale_in'));
    await expectEventually(async () => expect(await scaleIn(incidentId)).toMatchObject({ status: 'succeeded' }), WAIT);
  }, 90_000);

  it('a new incident on the service meanwhile: no scale-in while it lasts, and the quiet starts over once it resolves', async () => {
    const { incident, verifiedAt } = await verifiedScaleOut('noisy');
    const { incidentId } = incident.data;

    now = verifiedAt + 2 * MINUTE;
    const again = opened('noisy', 'api-2');
    await publish(again);
    await expectEventually(async () => expect(await remediation(again.data.incidentId)).toBeDefined(), WAIT);

    // The original due time passes with the new incident open: not scaled in.
    now = verifiedAt + AFTER_MS;
    const [held] = await worker().tick();
    expect(held).toMatchObject({ incidentId, kind: 'wait' });
    expect(held.reason).toMatch(new RegExp(`incident ${again.data.incidentId} on api is open`));
    expect(await scaleIn(incidentId)).toMatchObject({ status: 'pending', due_at: new Date(now + AFTER_MS) });
    expect(await scaleInPlans(incidentId)).toEqual([]);

    // It resolves; the service must then stay quiet for the whole interval again.
    now = verifiedAt + AFTER_MS + MINUTE;
    const resolvedAt = now;
    await publish(resolved(again));
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT incident_resolved_at FROM decision.remediations WHERE incident_id = $1`, [again.data.incidentId]);
      expect(rows[0]).toEqual({ incident_resolved_at: new Date(resolvedAt) });
    }, WAIT);
    now = resolvedAt + AFTER_MS - 1;
    const [waited] = await worker().tick();
    expect(waited).toMatchObject({ incidentId, kind: 'wait' });
    expect(waited.reason).toMatch(`api has been quiet since ${new Date(resolvedAt).toISOString()}`);
    expect(await scaleIn(incidentId)).toMatchObject({ status: 'pending', due_at: new Date(resolvedAt + AFTER_MS) });
    expect(await scaleInPlans(incidentId)).toEqual([]);
    // Quiet for the whole interval since the other incident resolved: now it is scaled in.
    now = resolvedAt + AFTER_MS;
    expect(await worker().tick()).toEqual([expect.objectContaining({ incidentId, kind: 'plan' })]);
    await expectEventually(async () => expect(await scaleInPlans(incidentId)).toHaveLength(1), WAIT);
  }, 90_000);

  it('the due time survives a restart: a new process plans the scale-in once it is due', async () => {
    const { incident, verifiedAt } = await verifiedScaleOut('restarted');
    const { incidentId } = incident.data;
    await booted.close();
    booted = await env.boot({ clock, consume: true });
    now = verifiedAt + AFTER_MS;
    expect(await worker().tick()).toContainEqual(expect.objectContaining({ incidentId, kind: 'plan' }));
    await expectEventually(async () => expect(await scaleInPlans(incidentId)).toHaveLength(1), WAIT);
  }, 90_000);

  it('plans the scale-in for a service on the host agent too, on the agent runtime', async () => {
    const { incident, verifiedAt } = await verifiedScaleOut('hosted');
    const { incidentId } = incident.data;
    now = verifiedAt + AFTER_MS;
    expect(await worker().tick()).toContainEqual(expect.objectContaining({ incidentId, kind: 'plan' }));
    await expectEventually(async () => {
      const [plan] = await scaleInPlans(incidentId);
      expect(plan).toMatchObject({ data: { action: 'scale_in', runtime: { kind: 'agent' }, parameters: { minInstances: 2 } } });
    }, WAIT);
  }, 90_000);
});
