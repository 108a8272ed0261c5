import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { newEvent, newEventId, type Envelope, type EventType, type RemediationAction } from '@autoheal/contracts';
import { ComplianceCheckService } from '../compliance/compliance-check.service.js';
import { DeferralsWorker } from '../planning/deferrals.worker.js';
import { PlanningService } from '../planning/planning.service.js';
import { startDecisionTestApp } from '../test-support/decision-test-app.js';
import { OutcomesService } from './outcomes.service.js';
import { VerificationWorker } from './verification.worker.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const WINDOW = 30 * SECOND;
const DEADLINE = 2 * MINUTE;

/** SOC 2 allows restart and replace automatically (cooldown 1 min, one in-flight remediation on a one-instance service). */
function tenant(tenantId: string, verify: Record<string, number> | undefined): Record<string, unknown> {
  return {
    apiVersion: 'autoheal/v1',
    tenantId,
    frameworks: ['SOC2'],
    inventory: { services: [{ service: 'api', instances: [{ instance: 'api-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }] }] },
    playbooks: { heartbeat_missed: { candidates: [{ action: 'restart' }, { action: 'replace' }], ...(verify ? { verify } : {}) } },
    escalation: { targets: [{ kind: 'webhook', name: 'chatops', url: 'http://127.0.0.1:9/hook', secretRef: 'CHATOPS_SECRET' }] },
  };
}

describe('verify window: the target health holds after the resolution (real Postgres and nats-server)', () => {
  let stop: (() => Promise<void>) | undefined;
  let pg: Client;
  let app: INestApplication;
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock = { now: () => new Date(now) };
  const windowed = { deadlineMs: DEADLINE, windowMs: WINDOW };

  beforeAll(async () => {
    // The test drives the workers itself, with a clock it moves; nothing is delivered.
    ({ app, pg, stop } = await startDecisionTestApp({
      prefix: 'verify-window-test-',
      documents: [tenant('held', windowed), tenant('relapsing', { deadlineMs: 5 * MINUTE, windowMs: WINDOW }), tenant('late', windowed), tenant('unwindowed', undefined), tenant('slow', { deadlineMs: 40 * MINUTE, windowMs: 30 * MINUTE })],
      clock,
      secrets: () => 'secret',
    }));
  });

  afterAll(async () => {
    await stop?.();
  });

  function incidentOpened(tenantId: string): Envelope<'incident.opened'> {
    const incidentId = newEventId();
    const at = new Date(now).toISOString();
    return newEvent('incident.opened', {
      tenantId,
      producer: 'detector',
      correlationId: incidentId,
      occurredAt: new Date(now),
      data: { incidentId, service: 'api', instance: 'api-1', kind: 'heartbeat_missed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 2, evidence: {} },
    });
  }

  function resolved(incident: Envelope<'incident.opened'>): Envelope<'incident.resolved'> {
    const { incidentId } = incident.data;
    return newEvent('incident.resolved', {
      tenantId: incident.tenantId,
      producer: 'detector',
      correlationId: incidentId,
      data: { incidentId, service: 'api', instance: 'api-1', kind: 'heartbeat_missed', resolvedAt: new Date(now).toISOString(), reason: 'heartbeats resumed', durationMs: 1 },
    });
  }

  function success(incident: Envelope<'incident.opened'>, remediationId: string, action: RemediationAction): Envelope<'remediation.succeeded'> {
    return newEvent('remediation.succeeded', {
      tenantId: incident.tenantId,
      producer: 'executor',
      correlationId: incident.data.incidentId,
      data: { remediationId, incidentId: incident.data.incidentId, service: 'api', instance: 'api-1', action, durationMs: 10, details: {} },
    });
  }

  async function rowOf(incidentId: string): Promise<{ remediation_id: string; status: string; action: string | null; hold_until: Date | null; relapse_incident_id: string | null }> {
    const { rows } = await pg.query(`SELECT remediation_id, status, action, hold_until, relapse_incident_id FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
    expect(rows).toHaveLength(1);
    return rows[0] as never;
  }

  async function eventsOf<T extends EventType>(incidentId: string, type: T): Promise<Envelope<T>[]> {
    const { rows } = await pg.query<{ payload: Envelope }>(`SELECT payload FROM decision.outbox WHERE payload->>'correlationId' = $1 ORDER BY seq`, [incidentId]);
    return rows.map((r) => r.payload).filter((e) => e.type === type) as unknown[] as Envelope<T>[];
  }

  /** Opens an incident, and reports its plan's success `after` later; returns the remediation id. */
  async function remediated(incident: Envelope<'incident.opened'>, after = 10 * SECOND): Promise<string> {
    const { remediationId } = (await app.get(PlanningService).onIncidentOpened(incident)) as { remediationId: string };
    now += after;
    expect(await app.get(OutcomesService).onSucceeded(success(incident, remediationId, 'restart'))).toBe('verifying');
    return remediationId;
  }

  it('verifies once the window has held after the resolution, not before; time to remediate counts to the window end', async () => {
    const planning = app.get(PlanningService);
    const worker = app.get(VerificationWorker);
    const incident = incidentOpened('held');
    const { incidentId } = incident.data;
    const openedAt = now;
    const remediationId = await remediated(incident);
    const [plan] = await eventsOf(incidentId, 'remediation.planned');
    // The plan carries the window, so the record shows it.
    expect(plan.data.verify).toEqual({ deadlineMs: DEADLINE, windowMs: WINDOW });

    now += 5 * SECOND;
    const resolvedAt = now;
    await planning.onIncidentResolved(resolved(incident));
    // The resolution starts the hold; nothing is verified yet.
    expect(await rowOf(incidentId)).toMatchObject({ remediation_id: remediationId, status: 'verifying', hold_until: new Date(resolvedAt + WINDOW) });
    expect(await eventsOf(incidentId, 'remediation.verified')).toEqual([]);

    now = resolvedAt + WINDOW - 1;
    expect(await worker.finishHolds()).toEqual([]);
    expect(await worker.tick()).toEqual([]);
    expect(await rowOf(incidentId)).toMatchObject({ status: 'verifying' });
    expect(await eventsOf(incidentId, 'remediation.verified')).toEqual([]);

    // The window ends with no new incident on the target: verified (the worker reads the hold from Postgres).
    now = resolvedAt + WINDOW + 3 * SECOND;
    expect(await worker.tick()).toEqual([]);
    expect(await rowOf(incidentId)).toMatchObject({ status: 'verified', hold_until: null });
    const verified = await eventsOf(incidentId, 'remediation.verified');
    expect(verified).toHaveLength(1);
    expect(verified[0].data).toMatchObject({ remediationId, verifiedBy: 'health_held', windowMs: WINDOW, timeToRemediateMs: resolvedAt + WINDOW - openedAt });
    expect(await worker.finishHolds()).toEqual([]);
  });

  it('a relapse inside the window fails the verification, plans the fallback, and the new incident waits for it', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const worker = app.get(VerificationWorker);
    const deferrals = app.get(DeferralsWorker);
    const first = incidentOpened('relapsing');
    const firstId = first.data.incidentId;
    const restartId = await remediated(first, 2 * MINUTE);
    now += 5 * SECOND;
    await planning.onIncidentResolved(resolved(first));
    expect(await rowOf(firstId)).toMatchObject({ status: 'verifying' });

    // 20 s into the 30 s window, the same target fails again.
    now += 20 * SECOND;
    const relapse = incidentOpened('relapsing');
    const relapseId = relapse.data.incidentId;
    const decided = await planning.onIncidentOpened(relapse);
    const [failed] = await eventsOf(firstId, 'remediation.verification_failed');
    expect(failed).toMatchObject({ causationId: relapse.id, data: { remediationId: restartId, action: 'restart' } });
    expect(failed.data.reason).toMatch(new RegExp(`^restart was reported done at .* but the target relapsed: incident ${relapseId} began on the same target at .*, 20000 ms into the 30000 ms verify window`));
    // The next allowed candidate takes over on the first incident's row, caused by the failed verification.
    const fallback = await rowOf(firstId);
    expect(fallback).toMatchObject({ status: 'planned', action: 'replace', relapse_incident_id: relapseId, hold_until: null });
    expect((await eventsOf(firstId, 'remediation.planned')).at(-1)).toMatchObject({ causationId: failed.id, data: { remediationId: fallback.remediation_id, action: 'replace' } });
    // The new incident is decided too, once: the fallback just planned on the target makes it wait.
    expect(decided).toMatchObject({ kind: 'defer' });
    expect(await rowOf(relapseId)).toMatchObject({ status: 'deferred', action: expect.any(String) as string });
    expect(await eventsOf(relapseId, 'remediation.planned')).toEqual([]);

    // The fallback runs; past any retry time of the new incident, it is still not decided while the fallback is in flight.
    now += 10 * SECOND;
    expect(await outcomes.onSucceeded(success(first, fallback.remediation_id, 'replace'))).toBe('verifying');
    now += 150 * SECOND;
    const { rows: due } = await pg.query<{ retry_at: Date }>(`SELECT retry_at FROM decision.remediations WHERE incident_id = $1`, [relapseId]);
    expect(due[0].retry_at.getTime()).toBeLessThanOrEqual(now);
    expect((await deferrals.tick()).filter((r) => r.incidentId === relapseId)).toEqual([]);
    expect(await rowOf(relapseId)).toMatchObject({ status: 'deferred' });

    // The new incident resolves: its deferral closes without action, and the fallback's window starts.
    await planning.onIncidentResolved(resolved(relapse));
    expect(await rowOf(relapseId)).toMatchObject({ status: 'resolved' });
    const holding = await rowOf(firstId);
    expect(holding).toMatchObject({ status: 'verifying', hold_until: new Date(now + WINDOW) });
    now += WINDOW;
    expect(await worker.tick()).toEqual([]);
    const verified = await eventsOf(firstId, 'remediation.verified');
    expect(verified.map((v) => [v.data.remediationId, v.data.action, v.data.verifiedBy, v.data.windowMs])).toEqual([[fallback.remediation_id, 'replace', 'health_held', WINDOW]]);
    expect(await eventsOf(firstId, 'remediation.escalated')).toEqual([]);
    expect(await eventsOf(relapseId, 'remediation.planned')).toEqual([]);
  });

  it('a relapse with no fallback left escalates', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const worker = app.get(VerificationWorker);
    now += 60 * MINUTE;
    const first = incidentOpened('relapsing');
    const firstId = first.data.incidentId;
    // The restart is not verified by its deadline: replace follows, and its fix relapses too.
    await remediated(first, 2 * MINUTE);
    now += 5 * MINUTE;
    expect((await worker.tick()).filter((r) => r.incidentId === firstId)).toEqual([expect.objectContaining({ result: 'fallback_planned' })]);
    const replacing = await rowOf(firstId);
    now += 3 * MINUTE;
    expect(await outcomes.onSucceeded(success(first, replacing.remediation_id, 'replace'))).toBe('verifying');
    now += 5 * SECOND;
    await planning.onIncidentResolved(resolved(first));
    now += 5 * SECOND;
    const relapse = incidentOpened('relapsing');
    await planning.onIncidentOpened(relapse);
    expect(await rowOf(firstId)).toMatchObject({ remediation_id: replacing.remediation_id, status: 'failed', action: 'replace' });
    const [escalated] = await eventsOf(firstId, 'remediation.escalated');
    expect(escalated.data.reason).toMatch(new RegExp(`^restart failed \\(verification_failed: .*\\), then replace failed \\(verification_failed: .*the target relapsed: incident ${relapse.data.incidentId}.*\\); no fallback`));
  });

  it('the deadline bounds the window: resolved too late for it to hold → verification_failed → fallback', async () => {
    const planning = app.get(PlanningService);
    const worker = app.get(VerificationWorker);
    const incident = incidentOpened('late');
    const { incidentId } = incident.data;
    const restartId = await remediated(incident, 2 * MINUTE);
    // Resolved 15 s before the deadline: the 30 s window cannot end in time.
    now += DEADLINE - 15 * SECOND;
    await planning.onIncidentResolved(resolved(incident));
    now += 15 * SECOND - 1;
    expect((await worker.tick()).filter((r) => r.incidentId === incidentId)).toEqual([]);
    now += 1;
    expect((await worker.tick()).filter((r) => r.incidentId === incidentId)).toEqual([{ remediationId: restartId, incidentId, result: 'fallback_planned' }]);
    const [failed] = await eventsOf(incidentId, 'remediation.verification_failed');
    expect(failed.data.reason).toMatch(/too late for the target's health to hold for the 30000 ms verify window before the verification deadline/);
    expect(await rowOf(incidentId)).toMatchObject({ status: 'planned', action: 'replace' });
    expect(await eventsOf(incidentId, 'remediation.verified')).toEqual([]);
  });

  it('time to remediate counts to verification: a resolved incident whose window is still holding is checked against its TTR', async () => {
    const planning = app.get(PlanningService);
    const incident = incidentOpened('slow');
    const { incidentId } = incident.data;
    const openedAt = now;
    await remediated(incident);
    now += 10 * SECOND;
    await planning.onIncidentResolved(resolved(incident));
    expect(await rowOf(incidentId)).toMatchObject({ status: 'verifying' });
    // SOC 2: 30 min to remediate, at risk after 80 % of it; the 30 min window is still holding then.
    now = openedAt + 25 * MINUTE;
    await app.get(ComplianceCheckService).check();
    const atRisk = await eventsOf(incidentId, 'compliance.ttr_at_risk');
    expect(atRisk.map((e) => e.data.incidentId)).toEqual([incidentId]);
  });

  it('without a window, the resolution verifies at once, as before', async () => {
    const planning = app.get(PlanningService);
    const incident = incidentOpened('unwindowed');
    const { incidentId } = incident.data;
    const remediationId = await remediated(incident);
    expect((await eventsOf(incidentId, 'remediation.planned'))[0].data.verify).toEqual({ deadlineMs: MINUTE });
    now += 5 * SECOND;
    await planning.onIncidentResolved(resolved(incident));
    expect(await rowOf(incidentId)).toMatchObject({ status: 'verified', hold_until: null });
    const [verified] = await eventsOf(incidentId, 'remediation.verified');
    expect(verified.data).toMatchObject({ remediationId, verifiedBy: 'incident_resolved' });
    expect(verified.data).not.toHaveProperty('windowMs');
  });
});
