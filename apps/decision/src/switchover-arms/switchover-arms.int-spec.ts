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

/** SOC 2 restarts automatically (cooldown a minute); `web` keeps a warm spare on the host agent, `plain` none. */
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
        // Crashes are replaced: a spare stands in for that, a restart in place does not.
        tenant('replacing', { playbooks: { crashed: { candidates: [{ action: 'replace' }] } } }),
      ],
      env: { DECISION_ARM_TTL_MS: String(TTL_MS), DECISION_ARM_RECHECK_MS: '5000' },
    });
    ({ pg, keys } = env);
    booted = await env.boot({ clock, consume: true });
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  async function arm(tenantId: string, service = 'web'): Promise<{ status: string; remediation_id: string | null; policy_version: string | null; expires_at: Date | null; reason: string } | undefined> {
    const { rows } = await pg.query(`SELECT status, remediation_id, policy_version, expires_at, reason FROM decision.switchover_arms WHERE tenant_id = $1 AND service = $2`, [tenantId, service]);
    return rows[0] as never;
  }

  /** The arm_switchover plans for the tenant's service that reached the REMEDIATIONS stream, oldest first. */
  async function armPlans(tenantId: string, service = 'web'): Promise<Envelope<'remediation.planned'>[]> {
    const name = STREAMS.remediations.name;
    const info = await env.jsm.streams.info(name);
    const out: Envelope<'remediation.planned'>[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const event = (await env.jsm.streams.getMessage(name, { seq }))?.json<Envelope>();
      if (event?.type === 'remediation.planned' && event.tenantId === tenantId && event.data.action === 'arm_switchover' && event.data.service === service) out.push(event);
    }
    return out;
  }

  function succeeded(tenantId: string, incidentId: string, remediationId: string, details: Record<string, unknown>, target = { service: 'web', instance: 'web-1' }): Envelope<'remediation.succeeded'> {
    return newEvent('remediation.succeeded', {
      tenantId,
      producer: 'executor',
      correlationId: incidentId,
      data: { remediationId, incidentId, ...target, action: 'restart', durationMs: 10, details },
    });
  }

  /**
   * A crash of `instance` reported as healed under `armId` (the incident's evidence as the
   * detector passes it on), its restart planned by the decision service as usual, and the
   * executor's success naming the arm in `effect`. Returns the incident id (the arm used).
   */
  async function healedUnderArm(service: string, instance: string, armId: string, evidence: Record<string, unknown>, effect: Record<string, unknown>): Promise<string> {
    const incidentId = newEventId();
    const at = new Date(now).toISOString();
    await publishSigned(
      env.nc,
      keys,
      newEvent('incident.opened', {
        tenantId: 'armed',
        producer: 'detector',
        correlationId: incidentId,
        data: { incidentId, service, instance, kind: 'crashed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 2, evidence },
      }),
    );
    let restartId = '';
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT remediation_id, status, action FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
      expect(rows[0]).toMatchObject({ status: 'planned', action: 'restart' });
      restartId = (rows[0] as { remediation_id: string }).remediation_id;
    }, WAIT);
    // Used from the incident's opening (its evidence names the arm), before the restart is done:
    // an arm spent on a process whose restart then fails is not renewed as if it held.
    expect(await arm('armed', service)).toMatchObject({ status: 'used', remediation_id: armId });
    await publishSigned(env.nc, keys, succeeded('armed', incidentId, restartId, { effects: [effect] }, { service, instance }));
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT status FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
      expect(rows[0]).toMatchObject({ status: 'verifying' });
    }, WAIT);
    expect(await arm('armed', service)).toMatchObject({ status: 'used', remediation_id: armId });
    return incidentId;
  }

  /** The incident resolves (the new process's heartbeats): its restart is verified. */
  async function resolve(service: string, instance: string, incidentId: string): Promise<void> {
    const at = new Date(now).toISOString();
    await publishSigned(
      env.nc,
      keys,
      newEvent('incident.resolved', { tenantId: 'armed', producer: 'detector', correlationId: incidentId, data: { incidentId, service, instance, kind: 'crashed', resolvedAt: at, reason: 'heartbeats resumed', durationMs: 100 } }),
    );
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT status FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
      expect(rows[0]).toMatchObject({ status: 'verified' });
    }, WAIT);
  }

  it('arms each service on the agent runtime whose crash the policy heals automatically, as a plan of its own: the switch where it keeps spares, a restart in place too', async () => {
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
      parameters: { armTtlMs: TTL_MS, armHeals: ['switch', 'restart'] },
      inputs: { askedAbout: { kind: 'crashed', service: 'web', instance: 'web-1' }, policyDecision: 'plan' },
    });
    // The service without spares: armed for a restart in place only.
    expect(await arm('armed', 'plain')).toMatchObject({ status: 'armed' });
    await expectEventually(async () => expect(await armPlans('armed', 'plain')).toHaveLength(1), WAIT);
    expect((await armPlans('armed', 'plain'))[0].data).toMatchObject({ instance: 'plain-1', action: 'arm_switchover', parameters: { armTtlMs: TTL_MS, armHeals: ['restart'] } });
    // The Kubernetes service is judged not applicable.
    expect(await arm('kube')).toMatchObject({ status: 'withheld', reason: expect.stringContaining('cannot arm_switchover') as string });
    expect(await armPlans('kube')).toEqual([]);
    // A crash healed by replace: the spare's switch is armed, nothing where there is no spare.
    await expectEventually(async () => expect(await armPlans('replacing')).toHaveLength(1), WAIT);
    expect((await armPlans('replacing'))[0].data.parameters).toEqual({ armTtlMs: TTL_MS, armHeals: ['switch'] });
    expect(await arm('replacing', 'plain')).toMatchObject({ status: 'withheld', remediation_id: null, reason: expect.stringContaining('replace, and it keeps no warm spare') as string });
    expect(await armPlans('replacing', 'plain')).toEqual([]);
  });

  it('gives no arm to a tenant whose profile needs approval for the crash heal', async () => {
    expect(await arm('approving')).toMatchObject({ status: 'withheld', remediation_id: null, reason: expect.stringContaining('await_approval') as string });
    now += 10_000;
    await worker().tick();
    expect(await arm('approving')).toMatchObject({ status: 'withheld', remediation_id: null });
    expect(await armPlans('approving')).toEqual([]);
  });

  it('keeps a good arm, renews it before it lapses, and arms again once the incident it healed is verified and the cooldown has passed', async () => {
    const first = (await arm('armed'))!.remediation_id;
    now += MINUTE;
    await worker().tick();
    expect(await arm('armed')).toMatchObject({ status: 'armed', remediation_id: first });
    // Past half its TTL: renewed under a new remediation id.
    now += 5 * MINUTE;
    await worker().tick();
    const renewed = (await arm('armed'))!.remediation_id!;
    expect(renewed).not.toBe(first);
    await expectEventually(async () => expect((await armPlans('armed')).map((p) => p.data.remediationId)).toEqual([first, renewed]), WAIT);

    // web-1 crashes: its incident is decided as usual (a restart), and the executor reports that
    // restart done under the arm (the agent had switched already): used.
    const incidentId = await healedUnderArm('web', 'web-1', renewed, { switchedUnderArm: renewed }, { verb: 'routed', object: 'web-1', detail: { underArm: renewed } });
    // Not armed again while the incident is not verified, even past the cooldown: a process that
    // crashes again now goes the control plane's way.
    now += 2 * MINUTE;
    await worker().tick();
    expect(await arm('armed')).toMatchObject({ status: 'used', remediation_id: renewed, reason: expect.stringContaining(`once its incident ${incidentId} is verified`) as string });
    // Verified (the incident resolved): armed again, the cooldown since the use having passed.
    await resolve('web', 'web-1', incidentId);
    // Judged again at its next recheck.
    now += 5_000;
    await worker().tick();
    const again = (await arm('armed'))!;
    expect(again.status).toBe('armed');
    expect(again.remediation_id).not.toBe(renewed);
  });

  it('re-arms a restart in place only once its incident is verified and the cooldown since the restart has passed', async () => {
    const held = (await arm('armed', 'plain'))!.remediation_id!;
    const incidentId = await healedUnderArm('plain', 'plain-1', held, { restartedUnderArm: held }, { verb: 'restarted', object: 'plain-1', detail: { pid: 4242, previousPid: null, underArm: held } });
    await resolve('plain', 'plain-1', incidentId);
    // Verified at once, but inside the cooldown (a minute from the use): not armed yet.
    now += 30_000;
    await worker().tick();
    expect(await arm('armed', 'plain')).toMatchObject({ status: 'used', remediation_id: held, reason: expect.stringContaining('once the cooldown (60000 ms) has passed') as string });
    const plans = (await armPlans('armed', 'plain')).length;
    now += 31_000;
    await worker().tick();
    const again = (await arm('armed', 'plain'))!;
    expect(again).toMatchObject({ status: 'armed' });
    expect(again.remediation_id).not.toBe(held);
    await expectEventually(async () => expect(await armPlans('armed', 'plain')).toHaveLength(plans + 1), WAIT);
    expect((await armPlans('armed', 'plain')).at(-1)!.data.parameters).toEqual({ armTtlMs: TTL_MS, armHeals: ['restart'] });
  });

  it('verifies a restart whose incident was resolved before its opening was decided (the arm healed it within a heartbeat; incidents are handled several at once)', async () => {
    const incidentId = newEventId();
    const at = new Date(now).toISOString();
    // The resolution is handled first: no remediation row exists for it yet.
    await publishSigned(
      env.nc,
      keys,
      newEvent('incident.resolved', { tenantId: 'armed', producer: 'detector', correlationId: incidentId, data: { incidentId, service: 'web', instance: 'web-2', kind: 'crashed', resolvedAt: at, reason: 'heartbeats resumed', durationMs: 100 } }),
    );
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT down_until FROM decision.incident_downtime WHERE incident_id = $1`, [incidentId]);
      expect(rows[0]).toMatchObject({ down_until: expect.any(Date) as Date });
    }, WAIT);
    await publishSigned(
      env.nc,
      keys,
      newEvent('incident.opened', {
        tenantId: 'armed',
        producer: 'detector',
        correlationId: incidentId,
        data: { incidentId, service: 'web', instance: 'web-2', kind: 'crashed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 2, evidence: {} },
      }),
    );
    let restartId = '';
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT remediation_id, status FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
      expect(rows[0]).toMatchObject({ status: 'planned' });
      restartId = (rows[0] as { remediation_id: string }).remediation_id;
    }, WAIT);
    await publishSigned(env.nc, keys, succeeded('armed', incidentId, restartId, { effects: [{ verb: 'restarted', object: 'web-2', detail: { pid: 4343, previousPid: null } }] }, { service: 'web', instance: 'web-2' }));
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT status FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
      expect(rows[0]).toMatchObject({ status: 'verified' });
    }, WAIT);
  });

  it('backs off an arm the agent does not take (an unreachable agent, a lost host): twice as long after each failure in a row, and no longer once one is taken', async () => {
    const failArm = async (armId: string) => {
      await publishSigned(
        env.nc,
        keys,
        newEvent('remediation.failed', {
          tenantId: 'kube',
          producer: 'executor',
          correlationId: armId,
          data: { remediationId: armId, incidentId: armId, service: 'plain', instance: 'plain-1', action: 'arm_switchover', durationMs: 10, error: { code: 'agent_unreachable', message: 'no agent answered' } },
        }),
      );
      let dueAt = new Date(0);
      await expectEventually(async () => {
        const { rows } = await pg.query(`SELECT status, due_at FROM decision.switchover_arms WHERE tenant_id = 'kube' AND service = 'plain'`);
        expect(rows[0]).toMatchObject({ status: 'failed' });
        dueAt = (rows[0] as { due_at: Date }).due_at;
      }, WAIT);
      return dueAt.getTime() - now;
    };
    const first = (await arm('kube', 'plain'))!;
    expect(first.status).toBe('armed');
    // The recheck interval (5 s) after the first failure, 10 s after the second.
    expect(await failArm(first.remediation_id!)).toBe(5_000);
    now += 5_000;
    await worker().tick();
    const second = (await arm('kube', 'plain'))!;
    expect(second).toMatchObject({ status: 'armed' });
    expect(await failArm(second.remediation_id!)).toBe(10_000);
    now += 10_000;
    await worker().tick();
    const third = (await arm('kube', 'plain'))!;
    expect(third).toMatchObject({ status: 'armed' });
    // Taken by the agent: the next failure waits the recheck interval again.
    await publishSigned(
      env.nc,
      keys,
      newEvent('remediation.succeeded', { tenantId: 'kube', producer: 'executor', correlationId: third.remediation_id!, data: { remediationId: third.remediation_id!, incidentId: third.remediation_id!, service: 'plain', instance: 'plain-1', action: 'arm_switchover', durationMs: 10, details: {} } }),
    );
    await expectEventually(async () => {
      const { rows } = await pg.query(`SELECT failures FROM decision.switchover_arms WHERE tenant_id = 'kube' AND service = 'plain'`);
      expect(rows[0]).toMatchObject({ failures: 0 });
    }, WAIT);
    expect(await failArm(third.remediation_id!)).toBe(5_000);
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
