import { assertPartitionCount, fnv1a32 } from './partition-hash.js';

/** murmur3's 32-bit finalizer: FNV alone scores near-identical strings too much alike. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The weight of `member` for `partition`; the highest weight owns it. */
export function rendezvousWeight(member: string, partition: number): number {
  return mix(fnv1a32(`${member}\u0000${partition}`));
}

/**
 * Rendezvous (highest random weight) assignment: each partition goes to the member with the
 * highest weight for it. Deterministic for a given set of members, whatever their order, so
 * every detector that sees the same members computes the same owners without talking; a
 * member leaving moves only its own partitions, a member joining takes only the ones it wins.
 * Every member appears in the result, with an empty list when it owns nothing.
 */
export function assignPartitions(members: readonly string[], partitions: number): Map<string, number[]> {
  assertPartitionCount(partitions);
  const unique = [...new Set(members)].sort();
  const out = new Map<string, number[]>(unique.map((m) => [m, []]));
  if (unique.length === 0) return out;
  for (let p = 0; p < partitions; p++) {
    let owner = unique[0];
    let best = rendezvousWeight(owner, p);
    for (let i = 1; i < unique.length; i++) {
      const w = rendezvousWeight(unique[i], p);
      // Ties (astronomically rare) go to the smaller id, which `unique` being sorted gives.
      if (w > best) {
        best = w;
        owner = unique[i];
      }
    }
    out.get(owner)!.push(p);
  }
  return out;
}
