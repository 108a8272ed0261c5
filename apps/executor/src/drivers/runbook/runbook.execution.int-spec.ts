import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { newEvent, newEventId, STREAMS, type Envelope, type RemediationRuntime } from '@autoheal/contracts';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, createTestKeys, expectEventually, freePort, publishSigned, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { loadConfig } from '../../config.js';
import { createExecutorApp } from '../../executor.app.js';
import { RunbookServiceStandIn } from '../../test-support/runbook-service-stand-in.js';

// The whole executor (as main.ts builds it: consumer, outbox, HTTP with raw bodies) carrying a
// plan out through a tenant's runbook service that answers 202 and calls back.
const keys = createTestKeys();
afterAll(() => keys.remove());

const RUNBOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

function planned(instance: string, runtime: RemediationRuntime): Envelope<'remediation.planned'> {
  const incidentId = newEventId();
  return newEvent('remediation.planned', {
    tenantId: 'acme',
    producer: 'decision',
    correlationId: incidentId,
    causationId: newEventId(),
    data: {
      remediationId: newEventId(),
      incidentId,
      service: 'api',
      instance,
      action: 'rollback',
      parameters: { toRelease: 'previous' },
      runtime,
      policyVersion: 'sha256:0123456789abcdef',
      reason: 'test',
      candidates: [{ action: 'rollback', allowed: true, reason: 'test' }],
    },
  });
}

describe('executor with a runbook target (real Postgres, nats-server, runbook service and callback endpoint)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let app: INestApplication;
  let runbook: RunbookServiceStandIn;
  let impostor: Server;

  const runtime = (url: string): RemediationRuntime => ({ kind: 'runbook', url, secretRef: 'ACME_RUNBOOK_SECRET', timeoutMs: 5_000 });

  async function outcomes(remediationId: string): Promise<Envelope[]> {
    const events = await readStream<Envelope>(nc, STREAMS.remediations.name);
    return events.filter((e) => (e.data as { remediationId?: string }).remediationId === remediationId && (e.type === 'remediation.succeeded' || e.type === 'remediation.failed'));
  }

  async function execution(remediationId: string): Promise<{ status: string; driver: string } | undefined> {
    const { rows } = await pg.query<{ status: string; driver: string }>(`SELECT status, driver FROM executor.executions WHERE remediation_id = $1`, [remediationId]);
    return rows[0];
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    runbook = await new RunbookServiceStandIn(RUNBOOK_SECRET).start();
    runbook.addTarget('acme', 'api', 'api-1', { mode: 'callback' });
    // Answers 200 "done" without a signature: what an impostor on the runbook's address would say.
    impostor = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'done', effects: [{ verb: 'rolled_back', object: 'api' }] }));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));

    const port = await freePort();
    const config = loadConfig({
      DATABASE_URL: db.roleUrl('executor'),
      ...keys.env('executor'),
      NATS_URL: nats.url,
      EXECUTOR_PORT: String(port),
      EXECUTOR_TARGET_AGENTS: '*=demo-fleet',
      EXECUTOR_MAX_DELIVER: '2',
    });
    expect(config.EXECUTOR_PUBLIC_URL).toBe(`http://127.0.0.1:${port}`);
    app = await createExecutorApp(config, { secrets: (name) => (name === 'ACME_RUNBOOK_SECRET' ? RUNBOOK_SECRET : undefined) });
    await app.init();
    await app.startAllMicroservices();
    await app.listen(port, '127.0.0.1');
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    nc = await connectNats({ servers: nats.url, name: 'executor-runbook-test', onClosedForGood: () => undefined });
  });

  afterAll(async () => {
    await app?.close();
    await runbook?.stop();
    impostor?.closeAllConnections();
    await new Promise((resolve) => impostor?.close(resolve));
    await pg?.end();
    if (nc) await closeNats(nc);
    await nats?.stop();
    await db?.drop();
  });

  it('rolls back through the runbook (202, then a signed callback) and publishes succeeded with what the runbook did', async () => {
    const plan = planned('api-1', runtime(runbook.url));
    const { remediationId } = plan.data;
    await publishSigned(nc, keys, plan);

    const [outcome] = await expectEventually(async () => {
      const found = await outcomes(remediationId);
      expect(found).toHaveLength(1);
      return found;
    }, { timeoutMs: 15_000 });
    expect(outcome).toMatchObject({ type: 'remediation.succeeded', data: { action: 'rollback', details: { effects: 1, replayed: false, runbook: runbook.url } } });
    expect(runbook.observedEffects(remediationId)).toEqual([{ verb: 'rolled_back', object: 'api', detail: { toRelease: 'previous' } }]);
    expect(runbook.requestsFor(remediationId)).toEqual([{ webhookId: remediationId, verdict: 'acted', status: 202 }]);
    expect(runbook.callbackStatuses.get(remediationId)).toEqual([204]);
    expect(await execution(remediationId)).toEqual({ status: 'succeeded', driver: 'runbook' });
  });

  it('records an unsigned "done" as failed (unattributed_reply) and raises security.reply_rejected, never succeeded', async () => {
    const plan = planned('api-2', runtime(`http://127.0.0.1:${(impostor.address() as AddressInfo).port}/hooks/autoheal`));
    const { remediationId } = plan.data;
    await publishSigned(nc, keys, plan);

    const [outcome] = await expectEventually(async () => {
      const found = await outcomes(remediationId);
      expect(found).toHaveLength(1);
      return found;
    }, { timeoutMs: 15_000 });
    expect(outcome).toMatchObject({ type: 'remediation.failed', data: { error: { code: 'unattributed_reply' } } });
    const rejected = await expectEventually(async () => {
      const found = (await readStream<Envelope>(nc, STREAMS.security.name)).filter((e) => e.type === 'security.reply_rejected' && (e.data as { remediationId?: string }).remediationId === remediationId);
      expect(found).toHaveLength(1);
      return found;
    });
    expect(rejected[0]).toMatchObject({ tenantId: 'acme', data: { reason: 'unsigned', expectedSigner: 'runbook:ACME_RUNBOOK_SECRET', instance: 'api-2' } });
    expect(await execution(remediationId)).toEqual({ status: 'failed', driver: 'runbook' });
  });
});
