import fc from 'fast-check';
import { fnv1a32, partitionOf, partitionOfSubject } from './partition-hash.js';

describe('fnv1a32', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
    ['acmeapi', 0x53bf7d65],
  ])('hashes %j to the published FNV-1a value', (text, expected) => {
    expect(fnv1a32(text)).toBe(expected);
  });

  it('hashes non-ASCII text over its UTF-8 bytes', () => {
    // 'é' is 0xc3 0xa9 in UTF-8: two rounds, not one over the UTF-16 code unit.
    let h = 0x811c9dc5;
    for (const byte of [0xc3, 0xa9]) h = Math.imul(h ^ byte, 0x01000193);
    expect(fnv1a32('é')).toBe(h >>> 0);
  });
});

describe('partitionOf', () => {
  it.each([
    // Values computed independently: FNV-1a 32 of tenant+service, modulo the partition count.
    ['acme', 'api', 64, 37], // 0x53bf7d65
    ['acme', 'api', 1000, 0x53bf7d65 % 1000],
    ['acme', 'api', 1, 0],
  ])('puts %s/%s with %i partitions in partition %i', (tenant, service, partitions, expected) => {
    expect(partitionOf(tenant, service, partitions)).toBe(expected);
  });

  it('is stable and in range for any tenant and service', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 1024 }), (tenant, service, n) => {
        const p = partitionOf(tenant, service, n);
        expect(p).toBe(partitionOf(tenant, service, n));
        expect(Number.isInteger(p) && p >= 0 && p < n).toBe(true);
      }),
    );
  });

  it('spreads services evenly enough across 64 partitions', () => {
    const counts = new Array<number>(64).fill(0);
    for (let t = 0; t < 100; t++) for (let s = 0; s < 100; s++) counts[partitionOf(`tenant-${t}`, `svc-${s}`)]++;
    // 10,000 services, 156 expected per partition.
    expect(Math.min(...counts)).toBeGreaterThan(100);
    expect(Math.max(...counts)).toBeLessThan(220);
  });

  it.each([0, -1, 1.5, 1025, Number.NaN])('refuses %p partitions', (n) => {
    expect(() => partitionOf('acme', 'api', n)).toThrow(RangeError);
  });
});

describe('partitionOfSubject', () => {
  it('takes tenant and service from a health subject', () => {
    expect(partitionOfSubject('health.acme.api.api-1', 64)).toBe(37);
    expect(partitionOfSubject('health.acme.api.api-2', 64)).toBe(partitionOf('acme', 'api', 64));
  });

  it.each(['health', 'health.acme', 'health.acme.api'])('has no partition for %j', (subject) => {
    expect(partitionOfSubject(subject, 64)).toBeUndefined();
  });
});
