import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { newEvent, newEventId, type Envelope } from '@autoheal/contracts';
import { expectEventually, readStream } from '@autoheal/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { OutcomesService } from '../outcomes/outcomes.service.js';
import { PlanningService } from '../planning/planning.service.js';
import { startDecisionTestApp } from '../test-support/decision-test-app.js';
import { DeliveriesWorker } from './deliveries.worker.js';
import { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './delivery-policy.js';

const SECRET = 'hook-secret-for-tests';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A PagerDuty-compatible receiver and a webhook receiver on one local port, answering from a script. */
async function startReceiver(): Promise<{ url: string; received: Received[]; answers: number[]; server: Server }> {
  const received: Received[] = [];
  const answers: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answers.shift() ?? 202, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, answers, server };
}

describe('escalation deliveries (real Postgres, nats-server and HTTP receivers)', () => {
  let stop: (() => Promise<void>) | undefined;
  let pg: Client;
  let nc: NatsConnection;
  let app: INestApplication;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let now = Date.parse('2026-06-01T12:00:00Z');
  const clock = { now: () => new Date(now) };

  beforeAll(async () => {
    receiver = await startReceiver();
    ({ app, pg, nc, stop } = await startDecisionTestApp({
      prefix: 'deliveries-test-',
      documents: [
        {
          apiVersion: 'autoheal/v1',
          tenantId: 'paged',
          frameworks: ['PCI_DSS'],
          // Nothing automatic and nothing to approve: every incident escalates.
          overrides: { autoActions: [], approvalActions: [] },
          inventory: { services: [{ service: 'api', instances: [{ instance: 'api-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }] }] },
          escalation: {
            targets: [
              { kind: 'pagerduty', name: 'oncall', secretRef: 'ONCALL_ROUTING_KEY', url: `${receiver.url}/v2/enqueue` },
              { kind: 'webhook', name: 'chatops', url: `${receiver.url}/hook`, secretRef: 'CHATOPS_SECRET' },
            ],
          },
        },
        {
          apiVersion: 'autoheal/v1',
          tenantId: 'healed',
          frameworks: ['SOC2'],
          // Restart only: a failed restart has no fallback and escalates.
          playbooks: { heartbeat_missed: { candidates: [{ action: 'restart' }] } },
          inventory: { services: [{ service: 'api', instances: [{ instance: 'api-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }] }] },
          escalation: { targets: [{ kind: 'webhook', name: 'chatops', url: `${receiver.url}/hook`, secretRef: 'CHATOPS_SECRET' }] },
        },
      ],
      // The test drives the worker itself, with a clock it moves.
      env: { DECISION_DELIVERY_BACKOFF_MS: '1000', DECISION_DELIVERY_MAX_ATTEMPTS: '3' },
      clock,
      secrets: (ref) => ({ CHATOPS_SECRET: SECRET, ONCALL_ROUTING_KEY: 'routing-key-1' })[ref],
      natsClient: 'deliveries-test',
      // The consumers provision the streams the outbox relay publishes to.
      consume: true,
    }));
  });

  afterAll(async () => {
    await stop?.();
    await new Promise((resolve) => receiver?.server.close(resolve));
  });

  function incidentOpened(incidentId = newEventId(), tenantId = 'paged'): Envelope<'incident.opened'> {
    const at = new Date(now).toISOString();
    return newEvent('incident.opened', {
      tenantId,
      producer: 'detector',
      correlationId: incidentId,
      occurredAt: new Date(now),
      data: { incidentId, service: 'api', instance: 'api-1', kind: 'heartbeat_missed', severity: 'critical', signalAt: at, detectedAt: at, detectionLatencyMs: 2, evidence: {} },
    });
  }

  it('pages PagerDuty and calls the signed webhook once per incident, retrying with backoff, and audits the outcome', async () => {
    const planning = app.get(PlanningService);
    const worker = app.get(DeliveriesWorker);
    const incident = incidentOpened();
    expect(await planning.onIncidentOpened(incident)).toMatchObject({ kind: 'escalate' });
    // The same incident again (another event for it) queues nothing more.
    expect(await planning.onIncidentOpened({ ...incident, id: newEventId() })).toMatchObject({ kind: 'already_decided' });

    // First round: PagerDuty answers 503 (worth retrying), the webhook 202.
    receiver.answers.push(503, 202);
    expect(await worker.tick()).toBe(2);
    expect(receiver.received).toHaveLength(2);
    // Not due yet: the retry waits out its backoff.
    expect(await worker.tick()).toBe(0);
    now += 1000;
    expect(await worker.tick()).toBe(1);
    expect(await worker.tick()).toBe(0);

    const pages = receiver.received.filter((r) => r.path === '/v2/enqueue');
    expect(pages).toHaveLength(2);
    for (const page of pages) {
      expect(JSON.parse(page.body)).toMatchObject({
        routing_key: 'routing-key-1',
        event_action: 'trigger',
        dedup_key: incident.data.incidentId,
        payload: { severity: 'critical', source: 'autoheal/paged/api/api-1', summary: expect.stringContaining('[paged] api/api-1') as string },
      });
    }
    const [hook] = receiver.received.filter((r) => r.path === '/hook');
    expect(hook.headers[SIGNATURE_HEADER.toLowerCase()]).toBe(signBody(SECRET, hook.body));
    expect(JSON.parse(hook.body)).toMatchObject({ type: 'autoheal.escalation', dedupKey: incident.data.incidentId, sentAt: hook.headers[TIMESTAMP_HEADER.toLowerCase()] });

    const { rows } = await pg.query(`SELECT target, status, attempts, last_status FROM decision.escalation_deliveries WHERE incident_id = $1 ORDER BY target`, [incident.data.incidentId]);
    expect(rows).toEqual([
      { target: 'chatops', status: 'delivered', attempts: 1, last_status: 202 },
      { target: 'oncall', status: 'delivered', attempts: 2, last_status: 202 },
    ]);
    // The routing key went out in the request only: nothing the decision service stores holds it.
    const stored = await pg.query(
      `SELECT (SELECT count(*) FROM decision.escalation_deliveries WHERE payload::text LIKE '%routing-key-1%')
            + (SELECT count(*) FROM decision.tenant_versions WHERE document::text LIKE '%routing-key-1%' OR changes::text LIKE '%routing-key-1%')
            + (SELECT count(*) FROM decision.outbox WHERE payload::text LIKE '%routing-key-1%') AS n`,
    );
    expect(stored.rows[0]).toEqual({ n: '0' });
    await expectEventually(async () => {
      const delivered = (await readStream<Envelope>(nc, 'REMEDIATIONS')).filter(
        (e): e is Envelope<'remediation.escalation_delivered'> => e.type === 'remediation.escalation_delivered' && e.data.incidentId === incident.data.incidentId,
      );
      expect(delivered.map((e) => [e.data.target, e.data.outcome, e.data.attempts]).sort()).toEqual([
        ['chatops', 'delivered', 1],
        ['oncall', 'delivered', 2],
      ]);
    });
  });

  it('gives up after the last attempt and records the failure, and never retries a 4xx that will not get better', async () => {
    const planning = app.get(PlanningService);
    const worker = app.get(DeliveriesWorker);
    const incident = incidentOpened();
    await planning.onIncidentOpened(incident);
    receiver.received.length = 0;
    // PagerDuty: 500, 500, 500 (three attempts, the maximum); webhook: 400 at once.
    receiver.answers.push(500, 400);
    await worker.tick();
    now += 1000;
    receiver.answers.push(500);
    await worker.tick();
    now += 2000;
    receiver.answers.push(500);
    await worker.tick();
    now += 60_000;
    expect(await worker.tick()).toBe(0);

    const { rows } = await pg.query(`SELECT target, status, attempts, last_status FROM decision.escalation_deliveries WHERE incident_id = $1 ORDER BY target`, [incident.data.incidentId]);
    expect(rows).toEqual([
      { target: 'chatops', status: 'failed', attempts: 1, last_status: 400 },
      { target: 'oncall', status: 'failed', attempts: 3, last_status: 500 },
    ]);
    expect(receiver.received).toHaveLength(4);
  });

  it('pages when a planned remediation fails, once per incident', async () => {
    const planning = app.get(PlanningService);
    const outcomes = app.get(OutcomesService);
    const incident = incidentOpened(newEventId(), 'healed');
    const planned = await planning.onIncidentOpened(incident);
    expect(planned).toMatchObject({ kind: 'plan' });
    const { rows: before } = await pg.query(`SELECT 1 FROM decision.escalation_deliveries WHERE incident_id = $1`, [incident.data.incidentId]);
    expect(before).toHaveLength(0);

    const failed = newEvent('remediation.failed', {
      tenantId: 'healed',
      producer: 'executor',
      correlationId: incident.data.incidentId,
      data: {
        remediationId: (planned as { remediationId: string }).remediationId,
        incidentId: incident.data.incidentId,
        service: 'api',
        instance: 'api-1',
        action: 'restart',
        durationMs: 10,
        error: { code: 'spawn_failed', message: 'exec format error' },
      },
    });
    expect(await outcomes.onFailed(failed)).toBe('escalated');
    expect(await outcomes.onFailed({ ...failed, id: newEventId() })).toBe('not_ours_or_already_recorded');
    const { rows } = await pg.query<{ target: string; status: string; payload: { reason: string } }>(
      `SELECT target, status, payload FROM decision.escalation_deliveries WHERE incident_id = $1`,
      [incident.data.incidentId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ target: 'chatops', status: 'pending' });
    expect(rows[0].payload.reason).toMatch(/spawn_failed/);
  });
});
