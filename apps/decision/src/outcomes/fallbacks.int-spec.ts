import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { newEvent, newEventId, type Envelope, type EventType, type RemediationAction } from '@autoheal/contracts';
import type { MetricValueWithName } from 'prom-client';
import { metricsRegistry } from '@autoheal/telemetry';
import { DeferralsWorker } from '../planning/deferrals.worker.js';
import { PlanningService } from '../planning/planning.service.js';
import { startDecisionTestApp } from '../test-support/decision-test-app.js';
import { OutcomesService } from './outcomes.service.js';
import { VerificationWorker } from './verification.worker.js';

const api1 = [{ instance: 'api-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }];

/** SOC 2 allows restart and replace automatically; a dedicated pool in any region satisfies placement. */
function tenant(tenantId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'autoheal/v1',
    tenantId,
    frameworks: ['SOC2'],
    inventory: { services: [{ service: 'api', instances: api1 }] },
    playbooks: { heartbeat_missed: { candidates: [{ action: 'restart' }, { action: 'replace' }] } },
    escalation: { targets: [{ kind: 'webhook', name: 'chatops', url: 'http://127.0.0.1:9/hook', secretRef: 'CHATOPS_SECRET' }] },
    ...extra,
  };
}

/** Count and sum of a histogram's series with these labels, as /metrics shows them. */
async function histogram(name: string, labels: Record<string, string>): Promise<{ count: number; sum: number }> {
  const values = ((await metricsRegistry.getSingleMetric(name)?.get())?.values ?? []) as MetricValueWithName<string>[];
  const matching = values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  const pick = (suffix: string) => matching.filter((v) => v.metricName === `${name}_${suffix}`).reduce((total, v) => total + v.value, 0);
  return { count: pick('count'), sum: pick('sum') };
}

describe('playbook fallbacks after a failed remediation (real Postgres and nats-server)', () => {
  let stop: (() => Promise<void>) | undefined;
  let pg: Client;
  let app: INestApplication;
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock = { now: () => new Date(now) };
  const MINUTE = 60_000;

  beforeAll(async () => {
    // The test drives the deferrals itself, with a clock it moves; nothing is delivered.
    ({ app, pg, stop } = await startDecisionTestApp({
      prefix: 'fallbacks-test-',
      documents: [tenant('fallback'), tenant('tight', { overrides: { maxAutoActionsPerHour: 1 } }), tenant('unverified'), tenant('early')],
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

  function failure(incident: Envelope<'incident.opened'>, remediationId: string, action: RemediationAction, code = 'spawn_failed'): Envelope<'remediation.failed'> {
    return newEvent('remediation.failed', {
      tenantId: incident.tenantId,
      producer: 'executor',
      correlationId: incident.data.incidentId,
      data: { remediationId, incidentId: incident.data.incidentId, service: 'api', instance: 'api-1', action, durationMs: 10, error: { code, message: `${action} did not work` } },
    });
  }

  async function rowOf(incidentId: string): Promise<{ remediation_id: string; status: string; action: string; planned_at: Date | null; outcome_error: unknown }> {
    const { rows } = await pg.query(`SELECT remediation_id, status, action, planned_at, outcome_error FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
    expect(rows).toHaveLength(1);
    return rows[0] as never;
  }

  async function outboxOf(incidentId: string): Promise<Envelope[]> {
    const { rows } = await pg.query<{ payload: Envelope }>(`SELECT payload FROM decision.outbox WHERE payload->>'correlationId' = $1 ORDER BY seq`, [incidentId]);
    return rows.map((r) => r.payload);
  }

  /** The incident's events of one type, from the outbox. */
  async function eventsOf<T extends EventType>(incidentId: string, type: T): Promise<Envelope<T>[]> {
    const all: Envelope[] = await outboxOf(incidentId);
    return all.filter((e) => e.type === type) as unknown[] as Envelope<T>[];
  }

  async function attemptsOf(incidentId: string): Promise<{ remediation_id: string; action: string; error: unknown }[]> {
    const { rows } = await pg.query(`SELECT remediation_id, action, error FROM decision.remediation_attempts WHERE incident_id = $1 ORDER BY failed_at`, [incidentId]);
    return rows as never;
  }

  function success(incident: Envelope<'incident.opened'>, remediationId: string, action: RemediationAction): Envelope<'remediation.succeeded'> {
    return newEvent('remediation.succeeded', {
      tenantId: incident.tenantId,
      producer: 'executor',
      correlationId: incident.data.incidentId,
      data: { remediationId, incidentId: incident.data.incidentId, service: 'api', instance: 'api-1', action, durationMs: 10, details: {} },
    });
  }

  it('walks the fallback chain when verification fails: the driver said ok, the incident stayed open, so replace follows restart, then a human', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const verification = app.get(VerificationWorker);
    const failedBefore = await histogram('autoheal_decision_verification_latency_seconds', { result: 'verification_failed' });
    const incident = incidentOpened('unverified');
    const { incidentId } = incident.data;
    const restartId = ((await planning.onIncidentOpened(incident)) as { remediationId: string }).remediationId;
    const [plan] = await eventsOf(incidentId, 'remediation.planned');
    // The plan says how long the incident has to resolve once the driver is done (the default: a minute).
    expect(plan.data.verify).toEqual({ deadlineMs: MINUTE });
    expect(plan.data.runtime).toEqual({ kind: 'agent' });

    now += 2 * MINUTE;
    expect(await outcomes.onSucceeded(success(incident, restartId, 'restart'))).toBe('verifying');
    // Not yet due: nothing happens.
    now += MINUTE - 1;
    expect(await verification.tick()).toEqual([]);
    expect(await rowOf(incidentId)).toMatchObject({ remediation_id: restartId, status: 'verifying' });
    // The deadline passes with the incident still open: verification fails, replace is planned.
    now += 1;
    expect(await verification.tick()).toEqual([{ remediationId: restartId, incidentId, result: 'fallback_planned' }]);
    const replacing = await rowOf(incidentId);
    expect(replacing).toMatchObject({ status: 'planned', action: 'replace' });
    expect(replacing.remediation_id).not.toBe(restartId);
    expect(await attemptsOf(incidentId)).toEqual([{ remediation_id: restartId, action: 'restart', error: { code: 'verification_failed', message: expect.stringMatching(/incident was still open at the verification deadline/) as string } }]);
    const failedVerification = await eventsOf(incidentId, 'remediation.verification_failed');
    expect(failedVerification).toHaveLength(1);
    expect(failedVerification[0].data).toMatchObject({ remediationId: restartId, action: 'restart' });
    const fallbackPlan = (await eventsOf(incidentId, 'remediation.planned')).at(-1);
    expect(fallbackPlan).toMatchObject({ causationId: failedVerification[0].id, data: { remediationId: replacing.remediation_id, action: 'replace' } });

    // The replace is reported done too, and does not fix it either: no fallback is left, a human takes over.
    now += 2 * MINUTE;
    expect(await outcomes.onSucceeded(success(incident, replacing.remediation_id, 'replace'))).toBe('verifying');
    now += MINUTE;
    expect(await verification.tick()).toEqual([{ remediationId: replacing.remediation_id, incidentId, result: 'escalated' }]);
    expect(await rowOf(incidentId)).toMatchObject({ status: 'failed', action: 'replace' });
    const escalated = await eventsOf(incidentId, 'remediation.escalated');
    expect(escalated).toHaveLength(1);
    expect(escalated[0].data.reason).toMatch(/^restart failed \(verification_failed: .*\), then replace failed \(verification_failed: .*\); no fallback/);
    // Both failed verifications are timed from the driver's success to the deadline: a minute each.
    const failedAfter = await histogram('autoheal_decision_verification_latency_seconds', { result: 'verification_failed' });
    expect({ count: failedAfter.count - failedBefore.count, sum: failedAfter.sum - failedBefore.sum }).toEqual({ count: 2, sum: 120 });
    // Resolving now verifies nothing: the remediation already failed.
    await planning.onIncidentResolved(
      newEvent('incident.resolved', {
        tenantId: 'unverified',
        producer: 'detector',
        correlationId: incidentId,
        data: { incidentId, service: 'api', instance: 'api-1', kind: 'heartbeat_missed', resolvedAt: new Date(now).toISOString(), reason: 'late', durationMs: 1 },
      }),
    );
    expect((await outboxOf(incidentId)).filter((e) => e.type === 'remediation.verified')).toHaveLength(0);
  });

  it('verifies at once a remediation whose incident resolved while the driver was still at work', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const ttrBefore = await histogram('autoheal_decision_time_to_remediate_seconds', { action: 'restart' });
    const verifiedBefore = await histogram('autoheal_decision_verification_latency_seconds', { result: 'verified', action: 'restart' });
    const incident = incidentOpened('early');
    const { incidentId } = incident.data;
    const remediationId = ((await planning.onIncidentOpened(incident)) as { remediationId: string }).remediationId;
    now += 1_000;
    const resolvedAt = new Date(now);
    await planning.onIncidentResolved(
      newEvent('incident.resolved', {
        tenantId: 'early',
        producer: 'detector',
        correlationId: incidentId,
        data: { incidentId, service: 'api', instance: 'api-1', kind: 'heartbeat_missed', resolvedAt: resolvedAt.toISOString(), reason: 'heartbeats resumed', durationMs: 1_000 },
      }),
    );
    now += 500;
    expect(await outcomes.onSucceeded(success(incident, remediationId, 'restart'))).toBe('verified');
    const [verified] = await eventsOf(incidentId, 'remediation.verified');
    // Proven when both had happened: the driver's success, half a second after the resolution.
    expect(verified.data).toMatchObject({ remediationId, executedAt: new Date(now).toISOString(), timeToRemediateMs: 1_500 });
    // Counted once the transaction committed: time to remediate 1.5 s, verified as the driver reported (0 s after).
    const ttr = await histogram('autoheal_decision_time_to_remediate_seconds', { action: 'restart' });
    expect({ count: ttr.count - ttrBefore.count, sum: ttr.sum - ttrBefore.sum }).toEqual({ count: 1, sum: 1.5 });
    const verifiedAfter = await histogram('autoheal_decision_verification_latency_seconds', { result: 'verified', action: 'restart' });
    expect(verifiedAfter.count - verifiedBefore.count).toBe(1);
  });

  it('plans restart, then the replace fallback when it fails, then escalates naming both attempts', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const incident = incidentOpened('fallback');
    const { incidentId } = incident.data;
    const first = await planning.onIncidentOpened(incident);
    expect(first).toMatchObject({ kind: 'plan' });
    const restartId = (first as { remediationId: string }).remediationId;
    expect(await rowOf(incidentId)).toMatchObject({ remediation_id: restartId, status: 'planned', action: 'restart' });

    // Past the cooldown (1 min for SOC 2), the restart fails: the replace fallback is planned under a new id.
    now += 2 * MINUTE;
    const restartFailed = failure(incident, restartId, 'restart');
    expect(await outcomes.onFailed(restartFailed)).toBe('fallback_planned');
    const replacing = await rowOf(incidentId);
    expect(replacing).toMatchObject({ status: 'planned', action: 'replace', planned_at: new Date(now), outcome_error: null });
    expect(replacing.remediation_id).not.toBe(restartId);
    expect(await attemptsOf(incidentId)).toEqual([{ remediation_id: restartId, action: 'restart', error: { code: 'spawn_failed', message: 'restart did not work' } }]);
    const plans = (await outboxOf(incidentId)).filter((e): e is Envelope<'remediation.planned'> => e.type === 'remediation.planned');
    expect(plans.map((p) => [p.data.action, p.data.remediationId, p.causationId])).toEqual([
      ['restart', restartId, incident.id],
      ['replace', replacing.remediation_id, restartFailed.id],
    ]);
    expect(plans[1].data.candidates).toEqual([
      { action: 'restart', allowed: false, reason: 'restart was already tried for this incident' },
      expect.objectContaining({ action: 'replace', allowed: true }),
    ]);
    expect(plans[1].data.inputs).toMatchObject({ state: { previousAttempts: ['restart'], autoActionsInLastHour: 1 } });

    // The same failure again, and a different failed event for the restart: neither plans twice.
    expect(await outcomes.onFailed(restartFailed)).toBe('duplicate_event');
    expect(await outcomes.onFailed(failure(incident, restartId, 'restart', 'timeout'))).toBe('not_ours_or_already_recorded');
    expect((await outboxOf(incidentId)).filter((e) => e.type === 'remediation.planned')).toHaveLength(2);
    expect(await rowOf(incidentId)).toMatchObject({ remediation_id: replacing.remediation_id, status: 'planned' });

    // The executor carries out only restart: the replace fails, nothing is left, a human takes over.
    now += 2 * MINUTE;
    const replaceFailed = failure(incident, replacing.remediation_id, 'replace', 'unsupported_action');
    expect(await outcomes.onFailed(replaceFailed)).toBe('escalated');
    expect(await rowOf(incidentId)).toMatchObject({ remediation_id: replacing.remediation_id, status: 'failed', action: 'replace' });
    const escalations = (await outboxOf(incidentId)).filter((e): e is Envelope<'remediation.escalated'> => e.type === 'remediation.escalated');
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ causationId: replaceFailed.id, data: { remediationId: replacing.remediation_id } });
    expect(escalations[0].data.reason).toMatch(/^restart failed \(spawn_failed: restart did not work\), then replace failed \(unsupported_action: replace did not work\); no fallback: /);
    expect(escalations[0].data.reason).toMatch(/replace was already tried/);
    const { rows: deliveries } = await pg.query<{ target: string; payload: { reason: string } }>(`SELECT target, payload FROM decision.escalation_deliveries WHERE incident_id = $1`, [incidentId]);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0].payload.reason).toBe(escalations[0].data.reason);
    // And a late failure for the escalated remediation changes nothing.
    expect(await outcomes.onFailed(failure(incident, replacing.remediation_id, 'replace'))).toBe('not_ours_or_already_recorded');
  });

  it('defers a fallback the cooldown refuses, then plans it, still skipping what was tried', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const worker = app.get(DeferralsWorker);
    now += 60 * MINUTE;
    const incident = incidentOpened('fallback');
    const { incidentId } = incident.data;
    const { remediationId: restartId } = (await planning.onIncidentOpened(incident)) as { remediationId: string };

    now += 10_000;
    expect(await outcomes.onFailed(failure(incident, restartId, 'restart'))).toBe('fallback_deferred');
    const deferred = await rowOf(incidentId);
    expect(deferred).toMatchObject({ status: 'deferred', action: 'replace', planned_at: null });
    expect(deferred.remediation_id).not.toBe(restartId);
    const [deferral] = (await outboxOf(incidentId)).filter((e): e is Envelope<'remediation.deferred'> => e.type === 'remediation.deferred');
    expect(deferral.data.refusals).toEqual([expect.objectContaining({ action: 'replace', rule: 'cooldown' })]);

    // The cooldown doubles with each action on the target in the last 24 h (the first test's too): wait until it ends.
    const { rows: due } = await pg.query<{ retry_at: Date }>(`SELECT retry_at FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
    expect(due[0].retry_at.getTime()).toBeGreaterThan(now);
    now = due[0].retry_at.getTime();
    expect(await worker.tick()).toEqual([expect.objectContaining({ incidentId, remediationId: deferred.remediation_id, kind: 'plan', announced: true })]);
    expect(await rowOf(incidentId)).toMatchObject({ remediation_id: deferred.remediation_id, status: 'planned', action: 'replace' });
    const plans = (await outboxOf(incidentId)).filter((e): e is Envelope<'remediation.planned'> => e.type === 'remediation.planned');
    expect(plans.map((p) => [p.data.action, p.data.remediationId])).toEqual([
      ['restart', restartId],
      ['replace', deferred.remediation_id],
    ]);
    expect(plans[1].data.inputs).toMatchObject({ state: { previousAttempts: ['restart'] } });
  });

  it('counts the failed attempt against the hourly cap: no fallback once the budget is spent', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const incident = incidentOpened('tight');
    const { incidentId } = incident.data;
    const { remediationId: restartId } = (await planning.onIncidentOpened(incident)) as { remediationId: string };
    now += 2 * MINUTE;
    expect(await outcomes.onFailed(failure(incident, restartId, 'restart'))).toBe('escalated');
    expect(await rowOf(incidentId)).toMatchObject({ remediation_id: restartId, status: 'failed', action: 'restart' });
    expect(await attemptsOf(incidentId)).toEqual([]);
    const [escalated] = (await outboxOf(incidentId)).filter((e): e is Envelope<'remediation.escalated'> => e.type === 'remediation.escalated');
    expect(escalated.data.reason).toMatch(/^restart failed \(spawn_failed: restart did not work\); no fallback: .*max_auto_actions_per_hour/);
    expect((await outboxOf(incidentId)).filter((e) => e.type === 'compliance.action_refused')).toHaveLength(0);
  });
});
