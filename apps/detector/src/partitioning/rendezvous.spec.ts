import fc from 'fast-check';
import { assignPartitions } from './rendezvous.js';

function ownerOf(assignment: Map<string, number[]>): Map<number, string[]> {
  const owners = new Map<number, string[]>();
  for (const [member, partitions] of assignment) for (const p of partitions) owners.set(p, [...(owners.get(p) ?? []), member]);
  return owners;
}

const memberId = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const memberSet = fc.uniqueArray(memberId, { minLength: 1, maxLength: 12 });

describe('assignPartitions', () => {
  it.each([
    { members: [], partitions: 64, sizes: {} },
    { members: ['d1'], partitions: 64, sizes: { d1: 64 } },
    { members: ['d1', 'd1'], partitions: 8, sizes: { d1: 8 } },
  ])('assigns $partitions partitions to $members', ({ members, partitions, sizes }) => {
    const result = assignPartitions(members, partitions);
    expect(Object.fromEntries([...result].map(([m, ps]) => [m, ps.length]))).toEqual(sizes);
  });

  it('gives every partition to exactly one member', () => {
    fc.assert(
      fc.property(memberSet, fc.integer({ min: 1, max: 256 }), (members, partitions) => {
        const owners = ownerOf(assignPartitions(members, partitions));
        expect(owners.size).toBe(partitions);
        for (let p = 0; p < partitions; p++) expect(owners.get(p)).toHaveLength(1);
      }),
    );
  });

  it('does not depend on the order the members are listed in', () => {
    fc.assert(
      fc.property(memberSet, (members) => {
        expect(assignPartitions([...members].reverse(), 64)).toEqual(assignPartitions(members, 64));
      }),
    );
  });

  it('moves only the leaving member’s partitions when one leaves', () => {
    fc.assert(
      fc.property(memberSet.filter((m) => m.length >= 2), fc.nat(), (members, pick) => {
        const leaving = members[pick % members.length];
        const before = ownerOf(assignPartitions(members, 64));
        const after = ownerOf(assignPartitions(members.filter((m) => m !== leaving), 64));
        for (let p = 0; p < 64; p++) {
          if (before.get(p)![0] !== leaving) expect(after.get(p)![0]).toBe(before.get(p)![0]);
          else expect(after.get(p)![0]).not.toBe(leaving);
        }
      }),
    );
  });

  it('moves partitions only to the joining member when one joins', () => {
    fc.assert(
      fc.property(memberSet, memberId, (members, joining) => {
        fc.pre(!members.includes(joining));
        const before = ownerOf(assignPartitions(members, 64));
        const after = ownerOf(assignPartitions([...members, joining], 64));
        for (let p = 0; p < 64; p++) if (after.get(p)![0] !== joining) expect(after.get(p)![0]).toBe(before.get(p)![0]);
      }),
    );
  });

  it('shares partitions roughly evenly', () => {
    const members = ['detector-a', 'detector-b', 'detector-c', 'detector-d'];
    const sizes = [...assignPartitions(members, 1024).values()].map((ps) => ps.length);
    // 256 each on average; rendezvous hashing is binomial, so allow a wide but real band.
    for (const size of sizes) expect(size).toBeGreaterThan(200);
    for (const size of sizes) expect(size).toBeLessThan(312);
  });
});
