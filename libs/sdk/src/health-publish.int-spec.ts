import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { deduplicationKey, healthSubject, newEvent, newEventId, type Envelope } from '@autoheal/contracts';
import { readStream, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { HealthPublish } from './health-publish.js';

/**
 * The SDK's publish against a real nats-server, whose HEALTH stream deduplicates by
 * `Nats-Msg-Id` across every tenant's subjects: tenant `mallory` pre-claims every key it could
 * compute for the id `victim` will use, on its own subject, and `victim`'s event is still stored.
 */
describe('HealthPublish: the SDK’s Nats-Msg-Id (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    // The stream as autoheal provisions it: the default duplicate window (2 minutes).
    await (await jetstreamManager(nc)).streams.add({ name: 'HEALTH', subjects: ['health.>'] });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  const exited = (tenantId: string, instance: string, id: string): Envelope => ({
    ...newEvent('health.exited', { tenantId, producer: 'supervisor', data: { service: 'api', instance, exitCode: 1, signal: null, observedBy: 'agent' } }),
    id,
  });

  it('stores a tenant’s event whose id another tenant pre-claimed under every key it could compute, and stores a retry of it once', async () => {
    const id = newEventId();
    const js = jetstream(nc);
    // mallory's producer, on mallory's own subject (all NATS permissions allow it), with B's id.
    const claims = [id, deduplicationKey('victim', id), `victim:${id}:`, `victim:${id}:AAAAAAAAAAAAAAAAAAAAAA`];
    for (const msgID of claims) {
      const ack = await js.publish(healthSubject('mallory', 'api', 'm-1'), JSON.stringify(exited('mallory', 'm-1', id)), { msgID });
      expect(ack.duplicate).toBe(false);
    }

    const victim = new HealthPublish(js);
    const event = exited('victim', 'v-1', id);
    const subject = healthSubject('victim', 'api', 'v-1');
    const first = await victim.publish(subject, event, 2_000);
    expect(first.duplicate).toBe(false);
    // The acknowledgement was lost, say: the reporter publishes the same event again.
    const retry = await victim.publish(subject, event, 2_000);
    expect(retry).toMatchObject({ duplicate: true, seq: first.seq });

    const stored = (await readStream<Envelope>(nc, 'HEALTH')).filter((e) => e.id === id);
    expect(stored.map((e) => e.tenantId).sort()).toEqual([...claims.map(() => 'mallory'), 'victim']);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.getMessage('HEALTH', { seq: first.seq }))?.subject).toBe(subject);
  });

  it('derives the key from a secret of the publisher’s own: nothing public (tenant, id) determines it', () => {
    const js = jetstream(nc);
    const event = { tenantId: 'victim', id: newEventId() };
    const a = new HealthPublish(js);
    const b = new HealthPublish(js);
    expect(a.deduplicationKey(event)).toBe(a.deduplicationKey(event));
    expect(a.deduplicationKey(event)).not.toBe(b.deduplicationKey(event));
    expect(a.deduplicationKey(event)).toMatch(new RegExp(`^victim:${event.id}:[A-Za-z0-9_-]{22}$`));
  });
});
