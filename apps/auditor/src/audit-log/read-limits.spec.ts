import { AuditReadLimiter } from './read-limits';

describe('AuditReadLimiter', () => {
  const policy = { readRatePerMinute: 60, readBurst: 20, verifyCost: 10, fullVerifyPerHour: 2 };
  let now = 0;
  const limiter = () => new AuditReadLimiter(policy, () => now);

  beforeEach(() => (now = 0));

  it('lets a burst of page reads through, then refuses naming the limit and when to retry', () => {
    const l = limiter();
    for (let i = 0; i < 20; i++) expect(l.take('ak_a', 'list')).toBeNull();
    const refused = l.take('ak_a', 'list');
    expect(refused).toMatchObject({ limit: 'reads', retryAfterMs: 1_000 });
    expect(refused?.description).toContain('60 tokens per minute per API key');
    now = 1_000;
    expect(l.take('ak_a', 'list')).toBeNull();
  });

  it('charges a verify more than a page: two verifies spend the burst', () => {
    const l = limiter();
    expect(l.take('ak_a', 'verify')).toBeNull();
    expect(l.take('ak_a', 'verify')).toBeNull();
    expect(l.take('ak_a', 'verify')).toMatchObject({ limit: 'reads', retryAfterMs: 10_000 });
    expect(l.take('ak_a', 'list')).toMatchObject({ limit: 'reads' });
  });

  it("keeps keys apart: one key's flood leaves another's budget whole", () => {
    const l = limiter();
    for (let i = 0; i < 100; i++) l.take('ak_a', 'verify');
    expect(l.take('ak_b', 'verify')).toBeNull();
    expect(l.take('ak_b', 'verify')).toBeNull();
  });

  it('limits full verifications on their own, much smaller bucket', () => {
    const l = limiter();
    expect(l.take('ak_a', 'full_verify')).toBeNull();
    expect(l.take('ak_a', 'full_verify')).toMatchObject({ limit: 'full_verify', retryAfterMs: 1_800_000 });
    // Page reads are not charged for it.
    expect(l.take('ak_a', 'list')).toBeNull();
  });
});
