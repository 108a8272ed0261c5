import { deduplicationKey, healthDeduplicationKey, newEventId, newHealthDeduplicationSecret } from './event-id.js';

describe('healthDeduplicationKey', () => {
  const id = newEventId();

  it('is the same for a retry of the same event under the same secret, so the stream stores it once', () => {
    const secret = newHealthDeduplicationSecret();
    expect(healthDeduplicationKey(secret, 'acme', id)).toBe(healthDeduplicationKey(Buffer.from(secret), 'acme', id));
  });

  it('cannot be computed from the event alone: another secret, another key; and it is never the public key', () => {
    const [a, b] = [newHealthDeduplicationSecret(), newHealthDeduplicationSecret()];
    expect(healthDeduplicationKey(a, 'acme', id)).not.toBe(healthDeduplicationKey(b, 'acme', id));
    expect(healthDeduplicationKey(a, 'acme', id)).not.toBe(deduplicationKey('acme', id));
    expect(healthDeduplicationKey(a, 'acme', id)).toMatch(new RegExp(`^acme:${id}:[A-Za-z0-9_-]{22}$`));
  });

  it('binds tenant and id together: no tenant/id split of the same text gives the same tag', () => {
    const secret = newHealthDeduplicationSecret();
    const tag = (tenant: string, eventId: string) => healthDeduplicationKey(secret, tenant, eventId).split(':').pop();
    expect(tag('ab', 'c')).not.toBe(tag('a', 'bc'));
    expect(tag('acme', id)).not.toBe(tag('globex', id));
  });

  it('refuses a secret too short to keep the key from being guessed', () => {
    expect(() => healthDeduplicationKey(Buffer.alloc(8), 'acme', id)).toThrow(RangeError);
  });
});
