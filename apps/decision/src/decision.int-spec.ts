import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { newEvent, newEventId, STREAMS, type Envelope, type EventType, type StreamKey } from '@autoheal/contracts';
import { EventPublisher } from '@autoheal/messaging';
import { expectEventually, type NatsServerHandle, type TestDatabase, publishSigned, type TestKeys } from '@autoheal/testing';
import { loadConfig } from './config.js';
import { createDecisionApp } from './decision.app.js';
import { INCIDENTS_CONSUMER, OUTCOMES_CONSUMER } from './decision.consumers.js';
import { PlanningService } from './planning/planning.service.js';
import { documentVersion } from './planning/policy-port.js';
import { TenantsError } from './tenants/tenants.errors.js';
import { profileOf } from './tenants/tenants.service.js';
import { FLEET_BREAKER_OFF, startDecisionTestApp } from './test-support/decision-test-app.js';
import { apiTenantDoc } from './test-support/test-documents.js';


const ADMIN_KEY = 'decision-admin-test-key-0123456789';

const tenantDoc = apiTenantDoc;

const RESTART_ONLY = { heartbeat_missed: { candidates: [{ action: 'restart' }] } };

const TENANTS = [
  // SOC 2: 10 automatic actions an hour, half the service's instances at once (5 of 10).
  tenantDoc('acme', 10),
  tenantDoc('capped', 6, { overrides: { maxAutoActionsPerHour: 2 }, playbooks: RESTART_ONLY }),
  // GDPR keeps workload in the EEA; this tenant's instances run in us-east-1, so no replacement may be placed.
  tenantDoc('strict', 3, { frameworks: ['GDPR'], playbooks: { heartbeat_missed: { candidates: [{ action: 'replace' }, { action: 'scale_out' }] } } }),
  // The hourly cap (3) binds before the concurrency cap (6 of 12).
  tenantDoc('burst', 12, { overrides: { maxAutoActionsPerHour: 3 }, playbooks: RESTART_ONLY }),
  // The concurrency cap (5 of 10) binds before the hourly cap (10).
  tenantDoc('crowded', 10, { playbooks: RESTART_ONLY }),
  // PCI DSS: replace is a change (Req. 6.5.1) and needs a human's approval.
  tenantDoc('gated', 3, { frameworks: ['PCI_DSS'], playbooks: { heartbeat_missed: { candidates: [{ action: 'replace' }] } } }),
  tenantDoc('pending', 3, { frameworks: ['PCI_DSS'], playbooks: { heartbeat_missed: { candidates: [{ action: 'replace' }] } } }),
  tenantDoc('fenced', 4, { playbooks: RESTART_ONLY }),
  // Nothing to fall back on: a failed restart goes to a human (outcomes/fallbacks.int-spec.ts covers fallbacks).
  tenantDoc('single', 10, { playbooks: RESTART_ONLY }),
];

function incidentOpened(tenantId: string, instance: string, incidentId: string = newEventId(), extra: Record<string, unknown> = {}): Envelope<'incident.opened'> {
  const at = new Date().toISOString();
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector',
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance, kind: 'heartbeat_missed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 3, evidence: {}, ...extra },
  });
}

describe('decision service (real Postgres and nats-server)', () => {
  let stop: (() => Promise<void>) | undefined;
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let app: INestApplication;
  let dir: string;
  let baseUrl: string;
  /** The services' keys in this test environment: the decision service trusts them, publishSigned uses them. */
  let keys: TestKeys;

  async function admin<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; body: T }> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** Publishes as a JetStream client that retries without a message id would: every call is stored. */
  async function publishRaw(event: Envelope): Promise<number> {
    return publishSigned(nc, keys, event);
  }

  async function published<T extends EventType>(stream: StreamKey, type: T): Promise<Envelope<T>[]> {
    const name = STREAMS[stream].name;
    const info = await jsm.streams.info(name);
    const out: Envelope<T>[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const stored = await jsm.streams.getMessage(name, { seq });
      if (!stored) continue;
      const event = stored.json<Envelope>();
      if (event.type === type) out.push(event as Envelope<T>);
    }
    return out;
  }

  /** Every message up to `seq` was handled and acknowledged, and what it caused has left the outbox. */
  async function settled(stream: StreamKey, durable: string, seq: number): Promise<void> {
    await expectEventually(async () => {
      const info = await jsm.consumers.info(STREAMS[stream].name, durable);
      expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(seq);
      expect(info.num_ack_pending).toBe(0);
      const [{ n }] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.outbox WHERE published_at IS NULL`)).rows;
      expect(n).toBe(0);
    }, { timeoutMs: 15_000 });
  }

  const forIncident = <T extends { data: { incidentId: string } }>(events: T[], incidentId: string) => events.filter((e) => e.data.incidentId === incidentId);

  beforeAll(async () => {
    ({ nats, db, app, pg, nc, jsm, dir, baseUrl, stop, keys } = await startDecisionTestApp({
      documents: TENANTS,
      env: {
        DECISION_ADMIN_API_KEY: ADMIN_KEY,
        // These tests leave many incidents open at once on a small fleet: only suspected faults open the breaker here.
        ...FLEET_BREAKER_OFF,
      },
      natsClient: 'decision-test',
      consume: true,
      listen: true,
    }));
  });

  afterAll(async () => {
    await stop?.();
  });

  it('stores every boot document with its content hash as the policy version, and announces it', async () => {
    const { rows } = await pg.query<{ tenant_id: string; policy_version: string }>(`SELECT tenant_id, policy_version FROM decision.tenants ORDER BY tenant_id`);
    const expected = [...TENANTS].sort((a, b) => a.tenantId.localeCompare(b.tenantId)).map((t) => ({ tenant_id: t.tenantId, policy_version: documentVersion(t) }));
    expect(rows).toEqual(expected);
    await expectEventually(async () => {
      const changes = await published('compliance', 'compliance.policy_changed');
      expect(changes.map((e) => [e.tenantId, e.data.policyVersion]).sort()).toEqual(expected.map((t) => [t.tenant_id, t.policy_version]));
      // Each carries the effective profile's measured thresholds, so that the audit trail alone says what reports measure against.
      for (const change of changes) {
        const profile = profileOf(TENANTS.find((t) => t.tenantId === change.tenantId)!);
        expect(change.data.thresholds).toEqual({ availabilityTarget: profile.availabilityTarget, maxTimeToRemediateMs: profile.maxTimeToRemediateMs });
      }
    });
  });

  it('plans one restart for an opened incident, in the incident’s correlation, with its explanation', async () => {
    const incident = incidentOpened('acme', 'api-1');
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const plans = forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({
      tenantId: 'acme',
      producer: 'decision',
      correlationId: incident.data.incidentId,
      causationId: incident.id,
      data: { incidentId: incident.data.incidentId, service: 'api', instance: 'api-1', action: 'restart', policyVersion: documentVersion(TENANTS[0]), fallbacks: ['replace'] },
    });
    expect(plans[0].data.candidates).toEqual([
      { action: 'restart', allowed: true, reason: expect.any(String) as string },
      { action: 'replace', allowed: true, reason: expect.stringContaining('fallback') as string },
    ]);
    const { rows } = await pg.query(`SELECT remediation_id, status, planned_at FROM decision.remediations WHERE incident_id = $1`, [incident.data.incidentId]);
    expect(rows).toEqual([{ remediation_id: plans[0].data.remediationId, status: 'planned', planned_at: expect.any(Date) as Date }]);
  });

  it('plans once when the same event is delivered twice', async () => {
    const incident = incidentOpened('acme', 'api-2');
    await publishRaw(incident);
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    expect(forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId)).toHaveLength(1);
    const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.inbox WHERE consumer = $1 AND event_id = $2`, [INCIDENTS_CONSUMER.durable, incident.id]);
    expect(rows[0].n).toBe(1);
  });

  it('plans once when a second, different incident.opened names the same incident', async () => {
    const first = incidentOpened('acme', 'api-3');
    const second = incidentOpened('acme', 'api-3', first.data.incidentId);
    expect(second.id).not.toBe(first.id);
    await publishRaw(first);
    const seq = await publishRaw(second);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const plans = forIncident(await published('remediations', 'remediation.planned'), first.data.incidentId);
    expect(plans).toHaveLength(1);
    // Incidents are decided several at a time: either event may be the one that decided it.
    expect([first.id, second.id]).toContain(plans[0].causationId);
    expect(forIncident(await published('remediations', 'remediation.escalated'), first.data.incidentId)).toHaveLength(0);
  });

  it('plans up to the hourly cap, then escalates and says which rule refused', async () => {
    const incidents = ['api-1', 'api-2', 'api-3'].map((instance) => incidentOpened('capped', instance));
    let seq = 0;
    for (const incident of incidents) seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const ids = incidents.map((i) => i.data.incidentId);
    const plans = (await published('remediations', 'remediation.planned')).filter((e) => ids.includes(e.data.incidentId));
    const escalations = (await published('remediations', 'remediation.escalated')).filter((e) => ids.includes(e.data.incidentId));
    const refusals = (await published('compliance', 'compliance.action_refused')).filter((e) => ids.includes(e.data.incidentId));
    // Decided several at a time, so which two come first is not fixed; that only two do is.
    expect(plans).toHaveLength(2);
    expect(escalations).toHaveLength(1);
    const refused = escalations[0].data.incidentId;
    expect([...plans.map((e) => e.data.incidentId), refused].sort()).toEqual([...ids].sort());
    expect(refusals).toHaveLength(1);
    const cause = incidents.find((i) => i.data.incidentId === refused)!;
    expect(refusals[0]).toMatchObject({
      tenantId: 'capped',
      correlationId: refused,
      causationId: cause.id,
      data: { rule: 'max_auto_actions_per_hour', action: 'restart', instance: cause.data.instance, policyVersion: documentVersion(TENANTS[1]) },
    });
    expect(refusals[0].data.reason).toMatch(/limit of 2 automatic actions per hour is reached/);
    const { rows } = await pg.query(`SELECT status, refusal_rule FROM decision.remediations WHERE incident_id = $1`, [refused]);
    expect(rows).toEqual([{ status: 'escalated', refusal_rule: 'max_auto_actions_per_hour' }]);
  });

  it('refuses every action the profile forbids, naming the rule and the framework, and escalates', async () => {
    const incident = incidentOpened('strict', 'api-1');
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    expect(forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId)).toHaveLength(0);
    const refusals = forIncident(await published('compliance', 'compliance.action_refused'), incident.data.incidentId);
    expect(refusals.map((r) => [r.data.action, r.data.rule])).toEqual([
      ['replace', 'residency'],
      ['scale_out', 'residency'],
    ]);
    expect(refusals[0].data.reason).toMatch(/GDPR/);
    const [escalation] = forIncident(await published('remediations', 'remediation.escalated'), incident.data.incidentId);
    expect(escalation.data.candidates.map((c) => c.allowed)).toEqual([false, false]);
  });

  it('escalates an unknown tenant’s incident without inventing a compliance rule', async () => {
    const incident = incidentOpened('nobody', 'api-1');
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const [escalation] = forIncident(await published('remediations', 'remediation.escalated'), incident.data.incidentId);
    expect(escalation.data).toMatchObject({ policyVersion: 'none', candidates: [{ action: 'restart', allowed: false }, { action: 'replace', allowed: false }] });
    expect(escalation.data.reason).toMatch(/no_profile/);
    expect(forIncident(await published('compliance', 'compliance.action_refused'), incident.data.incidentId)).toHaveLength(0);
    expect(forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId)).toHaveLength(0);
  });

  it('holds the hourly cap exactly when many incidents of one tenant are decided at once', async () => {
    const planning = app.get(PlanningService);
    const incidents = Array.from({ length: 12 }, (_, i) => incidentOpened('burst', `api-${i + 1}`));
    const outcomes = await Promise.all(incidents.map((i) => planning.onIncidentOpened(i)));
    expect(outcomes.filter((o) => o.kind === 'plan')).toHaveLength(3);
    const escalated = outcomes.filter((o) => o.kind === 'escalate');
    expect(escalated).toHaveLength(9);
    for (const o of escalated) expect(o).toMatchObject({ refusedBy: 'max_auto_actions_per_hour' });
    const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.remediations WHERE tenant_id = 'burst' AND planned_at IS NOT NULL`);
    expect(rows[0].n).toBe(3);
  });

  it('holds the per-service concurrency cap exactly when many incidents of one service are decided at once, deferring the rest', async () => {
    const planning = app.get(PlanningService);
    const incidents = Array.from({ length: 10 }, (_, i) => incidentOpened('crowded', `api-${i + 1}`));
    const outcomes = await Promise.all(incidents.map((i) => planning.onIncidentOpened(i)));
    expect(outcomes.filter((o) => o.kind === 'plan')).toHaveLength(5);
    const refused = outcomes.filter((o) => o.kind !== 'plan');
    expect(refused).toHaveLength(5);
    // The cap paces healing: the rest wait for a slot instead of going to a human.
    for (const o of refused) expect(o).toMatchObject({ kind: 'defer', refusedBy: 'service_concurrency' });
    const { rows } = await pg.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM decision.remediations WHERE tenant_id = 'crowded' AND retry_at IS NOT NULL GROUP BY status`,
    );
    expect(rows).toEqual([{ status: 'deferred', n: 5 }]);
  });

  it('records outcomes and escalates a failed remediation once when the playbook has no fallback', async () => {
    const ok = incidentOpened('single', 'api-4');
    const bad = incidentOpened('single', 'api-5');
    await publishRaw(ok);
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(bad));
    const plans = await published('remediations', 'remediation.planned');
    const [okPlan] = forIncident(plans, ok.data.incidentId);
    const [badPlan] = forIncident(plans, bad.data.incidentId);

    const outcome = <T extends 'remediation.succeeded' | 'remediation.failed'>(type: T, plan: Envelope<'remediation.planned'>, data: object) =>
      newEvent(type, {
        tenantId: 'single',
        producer: 'executor',
        correlationId: plan.data.incidentId,
        causationId: plan.id,
        data: { remediationId: plan.data.remediationId, incidentId: plan.data.incidentId, service: 'api', instance: plan.data.instance, action: 'restart', durationMs: 40, ...data } as never,
      });
    const succeeded = outcome('remediation.succeeded', okPlan, { details: { pid: 4242 } });
    const failed = outcome('remediation.failed', badPlan, { error: { code: 'spawn_failed', message: 'exec format error' } });
    const publisher = new EventPublisher(nc, { signer: keys.key('executor') });
    await publisher.publish(succeeded);
    const { seq } = await publisher.publish(failed);
    // The same failure again, stored twice: it must escalate once.
    await publishRaw(failed);
    await settled('remediations', OUTCOMES_CONSUMER.durable, seq + 1);

    const { rows } = await pg.query(`SELECT incident_id, status, outcome_error FROM decision.remediations WHERE incident_id = ANY($1) ORDER BY status DESC`, [
      [ok.data.incidentId, bad.data.incidentId],
    ]);
    // The driver's word is not the end: the restart holds until its incident resolves.
    expect(rows).toEqual([
      { incident_id: ok.data.incidentId, status: 'verifying', outcome_error: null },
      { incident_id: bad.data.incidentId, status: 'failed', outcome_error: { code: 'spawn_failed', message: 'exec format error' } },
    ]);
    const resolved = newEvent('incident.resolved', {
      tenantId: 'single',
      producer: 'detector',
      correlationId: ok.data.incidentId,
      data: { incidentId: ok.data.incidentId, service: 'api', instance: 'api-4', kind: 'crashed', resolvedAt: new Date().toISOString(), reason: 'heartbeats resumed', durationMs: 900 },
    });
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(resolved));
    const verified = forIncident(await published('remediations', 'remediation.verified'), ok.data.incidentId);
    expect(verified).toHaveLength(1);
    expect(verified[0]).toMatchObject({ causationId: resolved.id, producer: 'decision', data: { remediationId: okPlan.data.remediationId, action: 'restart', verifiedBy: 'incident_resolved' } });
    expect(verified[0].data.timeToRemediateMs).toBeGreaterThanOrEqual(0);
    expect((await pg.query(`SELECT status FROM decision.remediations WHERE incident_id = $1`, [ok.data.incidentId])).rows).toEqual([{ status: 'verified' }]);
    const escalations = forIncident(await published('remediations', 'remediation.escalated'), bad.data.incidentId);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ causationId: failed.id, correlationId: bad.data.incidentId, data: { remediationId: badPlan.data.remediationId } });
    expect(escalations[0].data.reason).toMatch(/^restart failed \(spawn_failed: exec format error\); no fallback: .*restart was already tried/);
    expect(forIncident(plans, bad.data.incidentId)).toHaveLength(1);
    expect(forIncident(await published('remediations', 'remediation.escalated'), ok.data.incidentId)).toHaveLength(0);
  });

  it('waits for a human to approve an action the profile gates, over the admin API', async () => {
    const incident = incidentOpened('gated', 'api-1');
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(incident));
    const [waiting] = forIncident(await published('remediations', 'remediation.awaiting_approval'), incident.data.incidentId);
    expect(waiting.data).toMatchObject({ action: 'replace', expiresAt: expect.any(String) as string });
    expect(waiting.data.reason).toMatch(/approval_required/);
    expect(forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId)).toHaveLength(0);

    const path = `/v1/admin/remediations/${waiting.data.remediationId}:approve`;
    expect((await admin('POST', path, { reason: 'checked' }, 'not-the-key-0123456789')).status).toBe(401);
    const missing = await admin<{ fields: { field: string }[] }>('POST', path, {});
    expect(missing.status).toBe(400);
    expect(missing.body.fields.map((f) => f.field)).toEqual(['reason']);

    // The bootstrap key acts as `bootstrap-admin` (admin/admin-access.int-spec.ts covers people's keys).
    const approved = await admin('POST', path, { reason: 'checked the runbook' });
    expect(approved).toEqual({ status: 200, body: expect.objectContaining({ remediationId: waiting.data.remediationId, status: 'approved' }) as object });
    // Approving twice is a conflict, not a second approval.
    expect((await admin('POST', path, { reason: 'again' })).status).toBe(409);
    await expectEventually(async () => {
      const events = forIncident(await published('remediations', 'remediation.approved'), incident.data.incidentId);
      expect(events).toHaveLength(1);
      // The approval carries the plan's runtime and parameters: the executor acts on it alone.
      expect(events[0].data).toEqual({
        remediationId: waiting.data.remediationId,
        incidentId: incident.data.incidentId,
        service: 'api',
        instance: 'api-1',
        action: 'replace',
        approvedBy: 'bootstrap-admin',
        runtime: waiting.data.runtime,
        parameters: waiting.data.parameters,
      });
      expect(waiting.data).toMatchObject({ runtime: { kind: 'agent' }, parameters: {}, verify: { deadlineMs: 60_000 } });
    });
  });

  it('closes an approval nobody gave when the incident resolves, as rejected by the system', async () => {
    const incident = incidentOpened('pending', 'api-1');
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(incident));
    const [waiting] = forIncident(await published('remediations', 'remediation.awaiting_approval'), incident.data.incidentId);
    const resolved = newEvent('incident.resolved', {
      tenantId: 'pending',
      producer: 'detector',
      correlationId: incident.data.incidentId,
      data: { incidentId: incident.data.incidentId, service: 'api', instance: 'api-1', kind: 'heartbeat_missed', resolvedAt: new Date().toISOString(), reason: 'heartbeats resumed', durationMs: 900 },
    });
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(resolved));

    const [rejected] = forIncident(await published('remediations', 'remediation.rejected'), incident.data.incidentId);
    expect(rejected.data).toMatchObject({ remediationId: waiting.data.remediationId, rejectedBy: 'system', reason: 'the incident resolved before anyone approved' });
    const { rows } = await pg.query(`SELECT status FROM decision.remediations WHERE incident_id = $1`, [incident.data.incidentId]);
    expect(rows).toEqual([{ status: 'rejected' }]);
    // Too late to approve, and it no longer holds a place under the concurrency cap.
    expect((await admin('POST', `/v1/admin/remediations/${waiting.data.remediationId}:approve`, { reason: 'late' })).status).toBe(409);
    const next = incidentOpened('pending', 'api-2');
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(next));
    expect(forIncident(await published('remediations', 'remediation.awaiting_approval'), next.data.incidentId)).toHaveLength(1);
  });

  it('applies tenant documents all or nothing and lists every error of an invalid batch', async () => {
    const before = await pg.query(`SELECT tenant_id, policy_version FROM decision.tenants ORDER BY tenant_id`);
    const invalid = await admin<{ errors: { document: number; path: string }[] }>('POST', '/v1/admin/tenants:apply', {
      documents: [tenantDoc('newcomer', 2), { ...tenantDoc('acme', 10), frameworks: ['ISO27001'] }, { ...tenantDoc('capped', 6), overrides: { maxAutoActionsPerHour: 50 } }],
    });
    expect(invalid.status).toBe(422);
    expect(invalid.body.errors.map((e) => [e.document, e.path])).toEqual(expect.arrayContaining([[1, expect.stringContaining('frameworks')], [2, expect.stringContaining('maxAutoActionsPerHour')]]));
    expect((await pg.query(`SELECT tenant_id, policy_version FROM decision.tenants ORDER BY tenant_id`)).rows).toEqual(before.rows);

    const changed = tenantDoc('acme', 10, { overrides: { maxAutoActionsPerHour: 8 } });
    const applied = await admin<{ results: { tenantId: string; outcome: string; version: string; changes: { path: string }[] }[] }>('POST', '/v1/admin/tenants:apply', {
      documents: [changed, tenantDoc('newcomer', 2)],
    });
    expect(applied.status).toBe(200);
    expect(applied.body.results.map((r) => [r.tenantId, r.outcome, r.version])).toEqual([
      ['acme', 'updated', documentVersion(changed)],
      ['newcomer', 'created', documentVersion(tenantDoc('newcomer', 2))],
    ]);
    // acme had no overrides before: the whole object is what changed.
    expect(applied.body.results[0].changes).toEqual([{ path: 'overrides', to: { maxAutoActionsPerHour: 8 } }]);
    const versions = await admin<{ items: { version: string }[] }>('GET', '/v1/admin/tenants/acme/versions');
    expect(versions.body.items.map((v) => v.version)).toEqual(expect.arrayContaining([documentVersion(changed), documentVersion(TENANTS[0])]));
  });

  it('refuses an apply that would shorten audit retention below the profile, naming the field, and changes nothing', async () => {
    const state = async () =>
      (await pg.query(`SELECT tenant_id, policy_version, profile->'auditRetentionDays' AS retention FROM decision.tenants ORDER BY tenant_id`)).rows as { retention: number }[];
    const versions = async () => (await pg.query(`SELECT count(*)::int AS n FROM decision.tenant_versions`)).rows[0] as { n: number };
    const before = { tenants: await state(), versions: await versions() };
    // SOC 2 keeps the trail a year; a HIPAA tenant six years. Each override asks for less.
    const refused = await admin<{ errors: { document: number; path: string; message: string }[] }>('POST', '/v1/admin/tenants:apply', {
      documents: [{ ...tenantDoc('acme', 10), overrides: { auditRetentionDays: 30 } }, { ...tenantDoc('newcomer', 2), frameworks: ['HIPAA'], overrides: { auditRetentionDays: 365 } }],
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ document: 0, path: 'overrides.auditRetentionDays', message: expect.stringMatching(/^30 is looser than 365 required by SOC2/) as string }),
        expect.objectContaining({ document: 1, path: 'overrides.auditRetentionDays', message: expect.stringMatching(/^365 is looser than 2190 required by HIPAA/) as string }),
      ]),
    );
    expect({ tenants: await state(), versions: await versions() }).toEqual(before);
  });

  it('opens the breaker when suspected faults arrive together, holds everything, and resumes only when a human says so', async () => {
    const suspected = ['api-1', 'api-2'].map((i) => incidentOpened('fenced', i, newEventId(), { suspectedCause: 'detector_or_network' }));
    let seq = 0;
    for (const incident of suspected) seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);
    const breaker = await admin<{ open: boolean; reason: string }>('GET', '/v1/admin/breaker');
    expect(breaker.body).toMatchObject({ open: true, reason: expect.stringMatching(/^circuit_breaker: 2 incidents marked as a suspected/) as string });
    // The incident that trips the breaker is decided once it is open: its hold names the breaker's
    // reason. The consumer decides the two concurrently, so either may be the one decided second.
    const escalated = await published('remediations', 'remediation.escalated');
    const holds = suspected.map((incident) => forIncident(escalated, incident.data.incidentId)[0]?.data.reason ?? '');
    expect(holds.filter((reason) => reason.includes(breaker.body.reason))).toHaveLength(1);

    const ordinary = incidentOpened('fenced', 'api-3');
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(ordinary));
    expect(forIncident(await published('remediations', 'remediation.planned'), ordinary.data.incidentId)).toHaveLength(0);
    const [held] = forIncident(await published('remediations', 'remediation.escalated'), ordinary.data.incidentId);
    expect(held.data.reason).toMatch(/circuit breaker is open/);

    // Every tenant's audit trail says that its automatic actions stopped, and why.
    const tenantIds = (await pg.query<{ tenant_id: string }>(`SELECT tenant_id FROM decision.tenants ORDER BY tenant_id`)).rows.map((r) => r.tenant_id);
    expect(tenantIds).toEqual(expect.arrayContaining(TENANTS.map((t) => t.tenantId)));
    await expectEventually(async () => {
      const stops = await published('compliance', 'compliance.breaker_opened');
      expect(stops.map((e) => e.tenantId).sort()).toEqual(tenantIds);
      expect(stops[0].data).toMatchObject({ reason: breaker.body.reason });
    });

    const resumed = await admin('POST', '/v1/admin/breaker:resume', { reason: 'network fixed' });
    expect(resumed.body).toMatchObject({ open: false, resumed: true, resumedBy: 'bootstrap-admin' });
    await expectEventually(async () => {
      const resumes = await published('compliance', 'compliance.breaker_resumed');
      expect(resumes.map((e) => e.tenantId).sort()).toEqual(tenantIds);
      expect(resumes[0].data).toMatchObject({ resumedBy: 'bootstrap-admin', reason: 'network fixed', openedReason: breaker.body.reason });
    });
    const after = incidentOpened('fenced', 'api-4');
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(after));
    expect(forIncident(await published('remediations', 'remediation.planned'), after.data.incidentId)).toHaveLength(1);
  });

  it('does not count a redelivered suspected incident twice towards the breaker', async () => {
    const suspected = incidentOpened('fenced', 'api-1', newEventId(), { suspectedCause: 'detector_or_network' });
    await publishRaw(suspected);
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(suspected));
    expect((await admin<{ open: boolean }>('GET', '/v1/admin/breaker')).body.open).toBe(false);
  });

  it('refuses to boot on invalid tenant documents, listing every problem', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify([{ ...tenantDoc('ok', 1), overrides: { maxAutoActionsPerHour: 'many' } }, { ...tenantDoc('fine', 1), tenantId: 'x.y', frameworks: ['SOX'] }]));
    const config = loadConfig({ DATABASE_URL: db.roleUrl('decision'), ...keys.env('decision'), NATS_URL: nats.url, DECISION_TENANTS_DIR: file });
    const boot = createDecisionApp(config, { nestLogs: false });
    await expect(boot).rejects.toThrow(TenantsError);
    await expect(boot).rejects.toThrow(/documents\[0\]\.overrides\.maxAutoActionsPerHour[\s\S]*documents\[1\]\.tenantId[\s\S]*documents\[1\]\.frameworks/);
  });
});
