/** Partitions the fleet is split into unless configured otherwise. */
export const DEFAULT_PARTITIONS = 64;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Subject tokens are almost always ASCII; anything else goes through the encoder so the
    // hash stays over UTF-8 bytes, as the NATS server's is.
    if (code > 0x7f) return fnv1a32Bytes(Buffer.from(text, 'utf8'));
    hash = Math.imul(hash ^ code, FNV_PRIME);
  }
  return hash >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array): number {
  let hash = FNV_OFFSET;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, FNV_PRIME);
  return hash >>> 0;
}

/**
 * The partition of a tenant's service. All instances of one service land together, so
 * service-wide rules (a large share of a service failing) see every instance in one process.
 *
 * Deliberately the same function as the NATS server's subject mapping
 * `{{partition(n,1,2)}}` on `health.<tenant>.<service>.<instance>` (FNV-1a 32 over the
 * tokens concatenated, modulo n), so the server can route health events to per-partition
 * subjects that agree with this process. Do not change one without the other.
 */
export function partitionOf(tenantId: string, service: string, partitions: number = DEFAULT_PARTITIONS): number {
  assertPartitionCount(partitions);
  return fnv1a32(tenantId + service) % partitions;
}

/** The partition of a health subject `health.<tenant>.<service>.<instance>`; undefined for any other subject. */
export function partitionOfSubject(subject: string, partitions: number = DEFAULT_PARTITIONS): number | undefined {
  const first = subject.indexOf('.');
  const second = subject.indexOf('.', first + 1);
  const third = subject.indexOf('.', second + 1);
  if (first < 0 || second < 0 || third < 0) return undefined;
  return partitionOf(subject.slice(first + 1, second), subject.slice(second + 1, third), partitions);
}

export function assertPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) throw new RangeError(`partitions must be an integer in 1..1024, got ${partitions}`);
}
