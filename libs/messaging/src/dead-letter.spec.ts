import { DEAD_LETTER_MAX_PAYLOAD_BYTES, DEAD_LETTER_MAX_RECORD_BYTES, deadLetterRecord, deadLetterSubject, type DeadLetterRecord } from '@autoheal/contracts';
import { DeadLetterBudget } from './dead-letter-budget';
import { boundedPayload, encodeDeadLetter, TRUNCATED_FROM_HEADER } from './dead-letter';

function record(overrides: Partial<DeadLetterRecord>): DeadLetterRecord {
  return {
    reason: 'invalid_payload',
    detail: 'bad',
    stream: 'HEALTH',
    consumer: 'c',
    subject: 'health.acme.api.i-1',
    streamSequence: 1,
    deliveries: 1,
    headers: {},
    payload: '{}',
    payloadEncoding: 'utf8',
    deadLetteredAt: new Date(0).toISOString(),
    ...overrides,
  };
}

const decode = (bytes: Uint8Array) => deadLetterRecord.parse(JSON.parse(new TextDecoder().decode(bytes)));

describe('dead-letter records', () => {
  it('keeps at most DEAD_LETTER_MAX_PAYLOAD_BYTES of a payload and says how much there was', () => {
    const big = new TextEncoder().encode('x'.repeat(100_000));
    expect(boundedPayload(big)).toEqual({ payload: 'x'.repeat(DEAD_LETTER_MAX_PAYLOAD_BYTES), payloadEncoding: 'utf8', truncatedFrom: 100_000 });
    expect(boundedPayload(new Uint8Array([0xff, 0x00]))).toEqual({ payload: '/wA=', payloadEncoding: 'base64', truncatedFrom: null });
  });

  it.each([
    ['escapes that multiply text sixfold', record({ payload: '\u0001'.repeat(DEAD_LETTER_MAX_PAYLOAD_BYTES) })],
    ['a long detail', record({ detail: 'd'.repeat(100_000) })],
    ['many large headers', record({ headers: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`h-${i}`, ['v'.repeat(1_000)]])) })],
    ['a long base64 payload', record({ payload: Buffer.alloc(60_000, 0xff).toString('base64'), payloadEncoding: 'base64' })],
  ])('fits the stream’s max_msg_size whatever it holds: %s', (_name, r) => {
    const bytes = encodeDeadLetter(r);
    expect(bytes.byteLength).toBeLessThanOrEqual(DEAD_LETTER_MAX_RECORD_BYTES);
    const stored = decode(bytes);
    expect(stored.reason).toBe(r.reason);
    if (stored.payload !== r.payload) expect(Number(stored.headers[TRUNCATED_FROM_HEADER][0])).toBeGreaterThan(0);
  });

  it('stores a small record as it is', () => {
    const r = record({ headers: { a: ['b'] } });
    expect(decode(encodeDeadLetter(r))).toEqual(r);
  });

  it('puts the tenant in the subject, or a token no tenant can have', () => {
    expect(deadLetterSubject('HEALTH', 'detector-health', 'acme')).toBe('deadletter.HEALTH.detector-health.acme');
    expect(deadLetterSubject('HEALTH', 'detector-health', null)).toBe('deadletter.HEALTH.detector-health.~none');
    expect(deadLetterSubject('HEALTH', 'detector-health', '*')).toBe('deadletter.HEALTH.detector-health.~none');
  });
});

describe('DeadLetterBudget', () => {
  it('lets a tenant write perWindow dead letters per window, reports the first refusal once, and starts again next window', () => {
    let now = 0;
    const budget = new DeadLetterBudget(3, 1_000, () => now);
    const a = Array.from({ length: 5 }, () => budget.take('a'));
    expect(a.map((t) => t.allowed)).toEqual([true, true, true, false, false]);
    expect(a.map((t) => t.firstRefusal)).toEqual([false, false, false, true, false]);
    // Another tenant is not affected.
    expect(budget.take('b')).toEqual({ allowed: true, firstRefusal: false });
    now = 1_000;
    expect(budget.take('a')).toEqual({ allowed: true, firstRefusal: false });
  });
});
