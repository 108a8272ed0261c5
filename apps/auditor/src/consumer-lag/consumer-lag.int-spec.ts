import type { NatsConnection } from '@nats-io/transport-node';
import { closeNats, connectNats } from '@autoheal/messaging';
import { metricsRegistry } from '@autoheal/telemetry';
import { createTestDatabase, createTestKeys, expectEventually, publishSigned, startNatsServer, type NatsServerHandle, type TestDatabase, type TestKeys } from '@autoheal/testing';
import { INCIDENTS_AUDIT_CONSUMER } from '../audit-log/audit-log.consumers.js';
import { incidentOpened, startAuditor, type RunningAuditor } from '../test-support/auditor.js';
import { ConsumerLagSampler, type LagSample } from './consumer-lag.sampler.js';

// INCIDENTS keeps 30 days (libs/messaging stream-provisioning.ts).
const INCIDENTS_MAX_AGE_SECONDS = 30 * 24 * 3600;

/** What /metrics shows for the auditor's incidents consumer. */
async function scraped(name: string): Promise<number | undefined> {
  const values = (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => v.labels.stream === 'INCIDENTS' && (v.labels.consumer === undefined || v.labels.consumer === 'auditor-incidents'))?.value;
}

const incidents = (samples: LagSample[]) => samples.find((s) => s.consumer === INCIDENTS_AUDIT_CONSUMER.durable);

describe('audit consumer lag, sampled from JetStream (real nats-server and Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let nc: NatsConnection;
  let keys: TestKeys;
  let auditor: RunningAuditor | undefined;

  const start = async () => {
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { ...keys.env('auditor'), AUDITOR_LAG_SAMPLE_INTERVAL_MS: '0' } });
    return auditor;
  };

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    keys = createTestKeys();
    nc = await connectNats({ servers: nats.url, name: 'consumer-lag-test', onClosedForGood: () => undefined });
  });

  afterAll(async () => {
    await auditor?.stop();
    if (nc) await closeNats(nc);
    await nats?.stop();
    await db?.drop();
    keys?.remove();
  });

  it('reports a caught-up auditor at 0, a stopped one by the age of the oldest event it owes, and 0 again once it caught up', async () => {
    const running = await start();
    await publishSigned(nc, keys, incidentOpened('acme'));
    const sampler = running.app.get(ConsumerLagSampler);
    await expectEventually(async () => {
      expect(incidents(await sampler.sample())).toMatchObject({ unacknowledged: 0, lagSeconds: 0 });
    }, { timeoutMs: 30_000 });
    expect(await scraped('autoheal_auditor_consumer_lag_seconds')).toBe(0);
    expect(await scraped('autoheal_auditor_stream_max_age_seconds')).toBe(INCIDENTS_MAX_AGE_SECONDS);

    // The auditor is down while three events arrive; sampled two minutes later by another process.
    await running.stop();
    auditor = undefined;
    for (let i = 0; i < 3; i++) await publishSigned(nc, keys, incidentOpened('acme'));
    const later = new ConsumerLagSampler(nc, { now: () => new Date(Date.now() + 120_000) }, running.config);
    const behind = incidents(await later.sample());
    expect(behind?.unacknowledged).toBe(3);
    expect(behind?.lagSeconds).toBeGreaterThanOrEqual(120);
    expect(behind?.lagSeconds).toBeLessThan(180);
    expect(await scraped('autoheal_auditor_consumer_unacknowledged_messages')).toBe(3);
    expect(await scraped('autoheal_auditor_consumer_lag_seconds')).toBe(behind?.lagSeconds);

    // Back up: it catches up, and the lag falls back to 0.
    const restarted = await start();
    await expectEventually(async () => {
      expect(incidents(await restarted.app.get(ConsumerLagSampler).sample())).toMatchObject({ unacknowledged: 0, lagSeconds: 0 });
    }, { timeoutMs: 30_000 });
    expect(await scraped('autoheal_auditor_consumer_unacknowledged_messages')).toBe(0);
  });
});
