import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { deadLetterRecord, newEvent, newEventId, STREAMS, subjectFor, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { generateSigningKey, KEY_ID_HEADER, SIGNATURE_HEADER, signEventPayload, type SigningKey } from '@autoheal/security';
import { createTestKeys, expectEventually, readStream, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { closeNats, connectNats, EventPublisher, provisionStreams, SignedEventGuard, startConsumer, type ProvenanceRejection, type RunningConsumer } from './index.js';

const keys = createTestKeys();
afterAll(() => keys.remove());

function planned(instance: string, producer = 'decision'): Envelope<'remediation.planned'> {
  const incidentId = newEventId();
  return newEvent('remediation.planned', {
    tenantId: 'acme',
    producer,
    correlationId: incidentId,
    data: { remediationId: newEventId(), incidentId, service: 'api', instance, action: 'restart', policyVersion: 'p1', reason: 'test', candidates: [] },
  });
}

describe('provenance of control events at the consumer (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let consumer: RunningConsumer | undefined;
  const handled: string[] = [];
  const rejections: ProvenanceRejection[] = [];
  let failRecording = 0;

  const deadLetters = async (eventId: string): Promise<DeadLetterRecord[]> =>
    (await readStream<unknown>(nc, STREAMS.deadLetter.name)).map((r) => deadLetterRecord.parse(r)).filter((d) => d.payload.includes(eventId));

  async function publish(event: Envelope, sign?: { key: SigningKey; bytes?: Uint8Array }): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(event));
    const h = natsHeaders();
    if (sign) {
      const signed = signEventPayload(sign.key, sign.bytes ?? bytes);
      h.set(SIGNATURE_HEADER, signed.signature);
      h.set(KEY_ID_HEADER, signed.keyId);
    }
    await jetstream(nc).publish(subjectFor(event), bytes, { headers: h });
  }

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: 'provenance-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    const guard = new SignedEventGuard({
      trust: keys.trust,
      onRejected: (rejection) => {
        if (failRecording > 0) {
          failRecording -= 1;
          return Promise.reject(new Error('security stream unavailable'));
        }
        rejections.push(rejection);
        return Promise.resolve();
      },
    });
    consumer = await startConsumer(nc, { stream: 'remediations', durable: 'guarded', filterSubject: 'remediation.>' }, async (e) => void handled.push(e.id), { provenance: guard });
  });

  afterAll(async () => {
    await consumer?.stop();
    await closeNats(nc);
    await server.stop();
  });

  it('refuses to start a consumer of a signed stream without a provenance guard', async () => {
    await expect(startConsumer(nc, { stream: 'incidents', durable: 'unguarded', filterSubject: 'incident.>' }, () => undefined)).rejects.toThrow(/no provenance guard/);
  });

  it('hands an event its entitled producer signed to the handler', async () => {
    const event = planned('i-good');
    await new EventPublisher(nc, { signer: keys.key('decision') }).publish(event);
    await expectEventually(() => expect(handled).toContain(event.id));
  });

  it('will not publish a control event without a signing key, but publishes health events unsigned', async () => {
    await expect(new EventPublisher(nc).publish(planned('i-nokey'))).rejects.toThrow(/unsigned/);
    const heartbeat = newEvent('health.heartbeat', { tenantId: 'acme', producer: 'sdk', data: { service: 'api', instance: 'i-1', intervalMs: 1000, sequence: 1 } });
    await expect(new EventPublisher(nc).publish(heartbeat)).resolves.toMatchObject({ stream: 'HEALTH' });
  });

  type Signing = { key: SigningKey; bytes?: Uint8Array } | undefined;
  it.each<[string, () => Signing, string, string]>([
    ['unsigned', () => undefined, 'decision', 'unsigned'],
    ['signed by a stranger', () => ({ key: generateSigningKey().key }), 'decision', 'unknown_key'],
    ['signed by the detector', () => ({ key: keys.key('detector') }), 'decision', 'not_entitled'],
    ['signed by the decision service but claiming the executor produced it', () => ({ key: keys.key('decision') }), 'executor', 'producer_mismatch'],
    ['with a decision signature over other bytes', () => ({ key: keys.key('decision'), bytes: new TextEncoder().encode('{}') }), 'decision', 'bad_signature'],
  ])('refuses an event %s: no handler, a dead letter with the reason, a recorded refusal', async (_name, sign, producer, reason) => {
    const event = planned(`i-${reason}`, producer);
    await publish(event, sign());
    await expectEventually(async () => expect((await deadLetters(event.id)).map((d) => [d.reason, d.detail.split(':')[0]])).toEqual([['provenance_rejected', reason]]));
    expect(handled).not.toContain(event.id);
    expect(rejections.filter((r) => r.data.eventId === event.id)).toMatchObject([
      { tenantId: 'acme', data: { reason, subject: 'remediation.acme.planned', eventType: 'remediation.planned', claimedProducer: producer, rejectedBy: 'guarded', stream: 'REMEDIATIONS' } },
    ]);
  });

  it('judges a refused event again when its refusal could not be recorded, and never hands it over meanwhile', async () => {
    failRecording = 2;
    const event = planned('i-retry');
    await publish(event);
    await expectEventually(async () => expect(await deadLetters(event.id)).toHaveLength(1), { timeoutMs: 15_000 });
    expect(failRecording).toBe(0);
    expect(rejections.filter((r) => r.data.eventId === event.id)).toHaveLength(1);
    expect(handled).not.toContain(event.id);
  });
});
