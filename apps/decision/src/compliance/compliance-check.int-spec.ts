import type { INestApplication } from '@nestjs/common';
import { newEvent, newEventId, type Envelope } from '@autoheal/contracts';
import { PlanningService } from '../planning/planning.service.js';
import { startDecisionTestApp } from '../test-support/decision-test-app.js';
import { ComplianceCheckService } from './compliance-check.service.js';

const MINUTE = 60_000;

describe('time-to-remediate compliance events (real Postgres)', () => {
  let stop: (() => Promise<void>) | undefined;
  let app: INestApplication;
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock = { now: () => new Date(now) };

  beforeAll(async () => {
    ({ app, stop } = await startDecisionTestApp({
      prefix: 'ttr-test-',
      documents: [
        {
          apiVersion: 'autoheal/v1',
          tenantId: 'clinic',
          // HIPAA: 15 minutes to remediate; nothing automatic here, so every incident waits for a human.
          frameworks: ['HIPAA'],
          overrides: { autoActions: [], approvalActions: [] },
          inventory: { services: [{ service: 'api', instances: [{ instance: 'api-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }] }] },
        },
      ],
      env: { DECISION_TTR_AT_RISK_SHARE: '0.8' },
      clock,
    }));
  });

  afterAll(async () => {
    await stop?.();
  });

  function incidentOpened(): Envelope<'incident.opened'> {
    const incidentId = newEventId();
    const at = new Date(now).toISOString();
    return newEvent('incident.opened', {
      tenantId: 'clinic',
      producer: 'detector',
      correlationId: incidentId,
      occurredAt: new Date(now),
      data: { incidentId, service: 'api', instance: 'api-1', kind: 'crashed', severity: 'critical', signalAt: at, detectedAt: at, detectionLatencyMs: 1, evidence: {} },
    });
  }

  const types = (events: Envelope[]) => events.map((e) => [e.type, e.correlationId]);

  it('reports an incident at risk at 80 % of the maximum time to remediate, in breach past it, each once', async () => {
    const planning = app.get(PlanningService);
    const check = app.get(ComplianceCheckService);
    const opened = incidentOpened();
    const id = opened.data.incidentId;
    expect(await planning.onIncidentOpened(opened)).toMatchObject({ kind: 'escalate' });

    now += 11 * MINUTE;
    expect(await check.check()).toEqual([]);
    now += 1 * MINUTE; // 12 of 15 minutes
    const atRisk = await check.check();
    expect(types(atRisk)).toEqual([['compliance.ttr_at_risk', id]]);
    expect(atRisk[0].data).toMatchObject({ maxTimeToRemediateMs: 15 * MINUTE, deadlineAt: new Date(Date.parse(opened.data.detectedAt) + 15 * MINUTE).toISOString() });
    expect(await check.check()).toEqual([]);

    now += 3 * MINUTE; // 15 minutes: the limit
    expect(types(await check.check())).toEqual([['compliance.breach', id]]);
    now += 10 * MINUTE;
    expect(await check.check()).toEqual([]);
  });

  it('says nothing about an incident that resolved in time', async () => {
    const planning = app.get(PlanningService);
    const check = app.get(ComplianceCheckService);
    const opened = incidentOpened();
    await planning.onIncidentOpened(opened);
    now += 5 * MINUTE;
    await planning.onIncidentResolved(
      newEvent('incident.resolved', {
        tenantId: 'clinic',
        producer: 'detector',
        correlationId: opened.data.incidentId,
        occurredAt: new Date(now),
        data: { incidentId: opened.data.incidentId, service: 'api', instance: 'api-1', kind: 'crashed', resolvedAt: new Date(now).toISOString(), reason: 'heartbeats resumed', durationMs: 5 * MINUTE },
      }),
    );
    now += 30 * MINUTE;
    expect((await check.check()).filter((e) => e.correlationId === opened.data.incidentId)).toEqual([]);
  });
});
