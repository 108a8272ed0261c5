import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { newEvent, newEventId, STREAMS, type Envelope } from '@autoheal/contracts';
import { expectEventually, publishSigned, type TestKeys } from '@autoheal/testing';
import { TenantsService } from '../tenants/tenants.service.js';
import { startDecisionTestEnv, type BootedApp, type DecisionTestEnv } from '../test-support/decision-test-app.js';
import { SwitchoverArmsWorker } from './switchover-arms.worker.js';

const MINUTE = 60_000;
const TTL_MS = 10 * MINUTE;
const WAIT = { timeoutMs: 30_000 };
const instances = ['web-1', 'web-2'].map((instance) => ({ instance, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }));

/** SOC 2 restarts automatically; `web` keeps a warm spare on the host agent. */
function tenant(tenantId: string, extra: Record<string, unknown> = {}, service: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'autoheal/v1',
    tenantId,
    frameworks: ['SOC2'],
    inventory: { services: [{ service: 'web', instances, warmSpares: 1, ...service }, { service: 'plain', instances: [{ ...instances[0], instance: 'plain-1' }] }] },
    playbooks: { crashed: { candidates: [{ action: 'restart' }] } },
    ...extra,
  };
}

describe('armed switchover: the decision service arms a service with warm spares while its policy would heal a crash automatically (real Postgres and nats-server)', () => {
  let env: DecisionTestEnv & { nc: NatsConnection; jsm: JetStreamManager };
  let booted: BootedApp;
  let pg: Client;
  let keys: TestKeys;
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock = { now: () => new Date(now) };
  const worker = () => booted.app.get(SwitchoverArmsWorker);

  beforeAll(async () => {
    env = await startDecisionTestEnv({
      prefix: 'switchover-arms-test-',
      natsClient: 'switchover-arms-test',
      documents: [
        tenant('armed'),
        // Restart needs a human's approval: no crash is healed automatically, so nothing is armed.
        tenant('approving', { overrides: { approvalActions: ['restart'], autoActions: [] } }),
        tenant('kube', {}, { runtime: { kind: 'kubernetes', namespace: 'prod', workload: 'Deployment', name: 'web' } }),
        tenant('withdrawn'),
      ],
      env: { DECISION_ARM_TTL_MS: String(TTL_MS), DECISION_ARM_RECHECK_MS: '5000' },
    });
    ({ pg, keys } = env);
    booted = await env.boot({ clock, consume: true });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  async function arm(tenantId: string): Promise<{ status: string; remediation_id: string | null; policy_version: string | null; expires_at: Date | null; reason: string } | undefined> {
    const { rows } = await pg.query(`SELECT status, remediation_id, policy_version, expires_at, reason FROM decision.switchover_arms WHERE tenant_id = $1 AND service = 'web'`, [tenantId]);
    return rows[0] as never;
  }

  /** The arm_switchover plans of the tenant that reached the REMEDIATIONS stream, oldest first. */
  async function armPlans(tenantId: string): Promise<Envelope<'remediation.planned'>[]> {
    const name = STREAMS.remediations.name;
    const info = await env.jsm.streams.info(name);
    const out: Envelope<'remediation.planned'>[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const event = (await env.jsm.streams.getMessage(name, { seq }))?.json<Envelope>();
      if (event?.type === 'remediation.planned' && event.tenantId === tenantId && (event).data.action === 'arm_switchover') out.push(event);
    }
    return out;
  }

  function succeeded(tenantId: string, incidentId: string, remediationId: string, details: Record<string, unknown>): Envelope<'remediation.succeeded'> {
    return newEvent('remediation.succeeded', {
      tenantId,
      producer: 'executor',
      correlationId: incidentId,
      data: { remediationId, incidentId, service: 'web', instance: 'web-1', action: 'restart', durationMs: 10, details },
    });
  }

  it('arms each service with warm spares on the agent runtime whose crash the policy heals automatically, as a plan of its own, and nothing else', async () => {
    const judged = await worker().tick();
    expect(judged).toContainEqual(expect.objectContaining({ tenantId: 'armed', service: 'web', kind: 'arm' }));
    const row = await arm('armed');
    expect(row).toMatchObject({ status: 'armed', policy_version: expect.any(String) as string });
    expect(row!.expires_at!.getTime()).toBe(now + TTL_MS);
    await expectEventually(async () => expect(await armPlans('armed')).toHaveLength(1), WAIT);
    const [plan] = await armPlans('armed');
    expect(plan.data).toMatchObject({
      remediationId: row!.remediation_id,
      incidentId: row!.remediation_id,
      service: 'web',
      instance: 'web-1',
      action: 'arm_switchover',
      policyVersion: row!.policy_version,
      runtime: { kind: 'agent' },
      parameters: { armTtlMs: TTL_MS },
      inputs: { askedAbout: { kind: 'crashed', service: 'web', instance: 'web-1' }, policyDecision: 'plan' },
    });
    // The service without spares has no row at all; the Kubernetes one is judged not applicable.
    const { rows } = await pg.query(`SELECT tenant_id, service, status FROM decision.switchover_arms ORDER BY tenant_id, service`);
    expect(rows.filter((r: { service: string }) => r.service === 'plain')).toEqual([]);
    expect(await arm('kube')).toMatchObject({ status: 'withheld', reason: expect.stringContaining('cannot arm_switchover') as string });
    expect(await armPlans('kube')).toEqual([]);
  });

  it('gives no arm to a tenant whose profile needs approval for the crash heal', async () => {
    expect(await arm('approving')).toMatchObject({ status: 'withheld', remediation_id: null, reason: expect.stringContaining('await_approval') as string });
    now += 10_000;
    await worker().tick();
    expect(await arm('approving')).toMatchObject({ status: 'withheld', remediation_id: null });
    expect(await armPlans('approving')).toEqual([]);
  });

  it('keeps a good arm, renews it before it lapses, and arms again at once once an agent used it', async () => {
    const first = (await arm('armed'))!.remediation_id;
    now += MINUTE;
    await worker().tick();
    expect(await arm('armed')).toMatchObject({ status: 'armed', remediation_id: first });
    // Past half its TTL: renewed under a new remediation id.
    now += 5 * MINUTE;
    await worker().tick();
    const renewed = (await arm('armed'))!.remediation_id;
    expect(renewed).not.toBe(first);
    await expectEventually(async () => expect((await armPlans('armed')).map((p) => p.data.remediationId)).toEqual([first, renewed]), WAIT);

    // web-1 crashes: its incident is decided as usual (a restart), and the executor reports that
    // restart done under the arm (the agent had switched already): used, re-armed on the next tick.
    const incidentId = newEventId();
    const at = new Date(now).toISOString();
    await publishSigned(
      env.nc,
      keys,
      newEvent('incident.opened', {
        tenantId: 'armed',
        producer: 'detector',
        correlationId: incidentId,
        data: { incidentId, service: 'web', instance: 'web-1', kind: 'crashed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 2, evidence: { switchedUnderArm: renewed } },
      }),
    );
    let restartId = '';
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT remediation_id, status, action FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
      expect(rows[0]).toMatchObject({ status: 'planned', action: 'restart' });
      restartId = (rows[0] as { remediation_id: string }).remediation_id;
    }, WAIT);
    await publishSigned(env.nc, keys, succeeded('armed', incidentId, restartId, { effects: [{ verb: 'routed', object: 'web-1', detail: { underArm: renewed } }] }));
    await expectEventually(async () => expect(await arm('armed')).toMatchObject({ status: 'used', remediation_id: renewed }), WAIT);
    await worker().tick();
    const again = (await arm('armed'))!;
    expect(again.status).toBe('armed');
    expect(again.remediation_id).not.toBe(renewed);
  });

  it('withdraws the arm when a policy apply stops allowing the crash heal, and does not renew it', async () => {
    await worker().tick();
    const held = (await arm('withdrawn'))!;
    expect(held.status).toBe('armed');
    await expectEventually(async () => expect((await armPlans('withdrawn')).at(-1)?.data.remediationId).toBe(held.remediation_id), WAIT);
    const before = (await armPlans('withdrawn')).length;
    await booted.app.get(TenantsService).apply([tenant('withdrawn', { overrides: { approvalActions: ['restart'], autoActions: [] } })], 'alice@example.com');
    now += 10_000;
    await worker().tick();
    const after = (await arm('withdrawn'))!;
    expect(after).toMatchObject({ status: 'withheld', reason: expect.stringContaining(`withdrawing arm ${held.remediation_id}`) as string });
    expect(after.policy_version).not.toBe(held.policy_version);
    await expectEventually(async () => expect(await armPlans('withdrawn')).toHaveLength(before + 1), WAIT);
    const withdrawal = (await armPlans('withdrawn')).at(-1)!;
    expect(withdrawal.data).toMatchObject({ action: 'arm_switchover', parameters: { armTtlMs: 0 }, inputs: { withdraws: held.remediation_id } });
    // Later ticks (even past the old arm's renewal time) plan nothing more.
    now += 6 * MINUTE;
    await worker().tick();
    expect(await armPlans('withdrawn')).toHaveLength(before + 1);
    expect(await arm('withdrawn')).toMatchObject({ status: 'withheld' });
  });

  it('withdraws the arm inside a change freeze, even for an emergency restart', async () => {
    await booted.app.get(TenantsService).apply([tenant('withdrawn')], 'alice@example.com');
    now += 10_000;
    await worker().tick();
    expect(await arm('withdrawn')).toMatchObject({ status: 'armed' });
    const start = new Date(now - MINUTE).toISOString();
    const end = new Date(now + 60 * MINUTE).toISOString();
    await booted.app.get(TenantsService).apply(
      [tenant('withdrawn', { changeFreezes: [{ start, end }], playbooks: { crashed: { candidates: [{ action: 'restart', emergency: true }] } } })],
      'alice@example.com',
    );
    now += 10_000;
    await worker().tick();
    expect(await arm('withdrawn')).toMatchObject({ status: 'withheld', reason: expect.stringContaining('change freeze') as string });
  });
});
