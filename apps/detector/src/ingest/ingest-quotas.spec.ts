import { IngestQuotas, type IngestQuotaPolicy } from './ingest-quotas.js';
import { loadIngestConfig } from './ingest.config.js';

const MIB = 1024 * 1024;
const POLICY: IngestQuotaPolicy = {
  maxBodyBytes: MIB,
  requestsPerSec: 50,
  requestBurst: 100,
  bytesPerSec: 2 * MIB,
  byteBurst: 4 * MIB,
  eventsPerSec: 2000,
  eventBurst: 5000,
};

describe('IngestQuotas.admit', () => {
  let nowMs = 0;
  const quotas = (policy: Partial<IngestQuotaPolicy> = {}) => new IngestQuotas({ ...POLICY, ...policy }, () => nowMs);

  it('refuses a body declared larger than the limit for its size, every time: never a 429 it could never get past', () => {
    const q = quotas();
    for (const declared of [MIB + 1, 5 * MIB, 64 * MIB]) {
      for (let attempt = 0; attempt < 3; attempt++) {
        nowMs += 10_000; // however long the sender waits
        expect(q.admit('a', declared)).toEqual({ quota: 'size', declaredBytes: declared, maxBodyBytes: MIB });
      }
    }
  });

  it('answers the size before the budgets: an oversized request is refused for its size even with the request budget spent', () => {
    const q = quotas({ requestBurst: 1, requestsPerSec: 0.001 });
    expect(q.admit('a', 10)).toBeNull();
    expect(q.admit('a', 10)).toMatchObject({ quota: 'requests' });
    expect(q.admit('a', 5 * MIB)).toMatchObject({ quota: 'size' });
  });

  it('still charges an oversized request to the request budget, so oversized requests cannot flood', () => {
    const q = quotas({ requestBurst: 3, requestsPerSec: 0.001 });
    for (let i = 0; i < 3; i++) expect(q.admit('a', 5 * MIB)).toMatchObject({ quota: 'size' });
    expect(q.admit('a', 10)).toMatchObject({ quota: 'requests' });
    expect(q.admit('b', 10)).toBeNull();
  });

  it('does not charge the bytes of an oversized request (discarded unparsed), and a body within the limit waits its turn with a 429', () => {
    const q = quotas({ byteBurst: 2 * MIB, bytesPerSec: MIB });
    expect(q.admit('a', 5 * MIB)).toMatchObject({ quota: 'size' });
    expect(q.admit('a', MIB)).toBeNull();
    expect(q.admit('a', MIB)).toBeNull();
    const refused = q.admit('a', MIB);
    expect(refused).toMatchObject({ quota: 'bytes' });
    nowMs += (refused as { retryAfterMs: number }).retryAfterMs;
    expect(q.admit('a', MIB)).toBeNull();
  });

  it('refuses a policy whose largest body exceeds the byte burst', () => {
    expect(() => quotas({ maxBodyBytes: 5 * MIB, byteBurst: 4 * MIB })).toThrow(/could never pass/);
  });
});

describe('ingest configuration', () => {
  it('refuses DETECTOR_INGEST_MAX_BODY_BYTES larger than DETECTOR_INGEST_BYTE_BURST, naming the variable', () => {
    expect(() => loadIngestConfig({ DETECTOR_INGEST_MAX_BODY_BYTES: String(8 * MIB), DETECTOR_INGEST_BYTE_BURST: String(4 * MIB) })).toThrow(
      /DETECTOR_INGEST_BYTE_BURST: must be at least DETECTOR_INGEST_MAX_BODY_BYTES/,
    );
    expect(loadIngestConfig({ DETECTOR_INGEST_MAX_BODY_BYTES: String(4 * MIB), DETECTOR_INGEST_BYTE_BURST: String(4 * MIB) })).toMatchObject({ DETECTOR_INGEST_MAX_BODY_BYTES: 4 * MIB });
  });
});
