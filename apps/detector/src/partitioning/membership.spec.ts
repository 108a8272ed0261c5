import { MemberLiveness } from './membership.js';

describe('MemberLiveness', () => {
  it.each([
    { name: 'a member heard of within the TTL is live', seen: [['a', 1000]], left: [], now: 3999, live: ['a'] },
    { name: 'a member silent for the TTL is dead', seen: [['a', 1000]], left: [], now: 4000, live: [] },
    { name: 'a newer sighting keeps it alive', seen: [['a', 1000], ['a', 2500]], left: [], now: 5000, live: ['a'] },
    { name: 'an older sighting does not shorten its life', seen: [['a', 2500], ['a', 1000]], left: [], now: 5000, live: ['a'] },
    { name: 'a member that left is gone at once', seen: [['a', 1000], ['b', 1000]], left: ['a'], now: 1001, live: ['b'] },
    { name: 'members come back sorted', seen: [['c', 1], ['a', 1], ['b', 1]], left: [], now: 2, live: ['a', 'b', 'c'] },
  ])('$name', ({ seen, left, now, live }) => {
    const liveness = new MemberLiveness(3000);
    for (const [member, at] of seen as [string, number][]) liveness.seen(member, at);
    for (const member of left) liveness.left(member);
    expect(liveness.live(now)).toEqual(live);
  });

  it('reports when the next member expires', () => {
    const liveness = new MemberLiveness(3000);
    expect(liveness.nextExpiry()).toBeUndefined();
    liveness.seen('a', 2000);
    liveness.seen('b', 1000);
    expect(liveness.nextExpiry()).toBe(4000);
    liveness.live(4000);
    expect(liveness.nextExpiry()).toBe(5000);
  });
});
