/**
 * Which detectors are alive, from when each was last heard of. Pure: the caller feeds it
 * sightings (from the membership bucket) and the time.
 */
export class MemberLiveness {
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly ttlMs: number) {
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be positive');
  }

  /** A member announced itself at `at`; an older sighting never overrides a newer one. */
  seen(member: string, at: number): void {
    const previous = this.lastSeen.get(member);
    if (previous === undefined || at > previous) this.lastSeen.set(member, at);
  }

  /** A member said goodbye (deleted its key): gone now, not after the TTL. */
  left(member: string): void {
    this.lastSeen.delete(member);
  }

  /** Members heard of within the TTL, sorted; forgets the rest. */
  live(now: number): string[] {
    for (const [member, at] of this.lastSeen) if (now - at >= this.ttlMs) this.lastSeen.delete(member);
    return [...this.lastSeen.keys()].sort();
  }

  /** When the next live member expires if it stays silent; undefined when none is live. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const at of this.lastSeen.values()) if (next === undefined || at + this.ttlMs < next) next = at + this.ttlMs;
    return next;
  }
}
