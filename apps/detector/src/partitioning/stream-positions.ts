/**
 * Where the partitions loaded in this detector stand in the health stream: up to which sequence
 * each one's takeover read the stream, and the newest sequence the live consumer handled.
 * Plain bookkeeping: DetectionService asks it which live events to apply and what each
 * partition's checkpoint is when state is saved.
 */
export class StreamPositions {
  /** Loaded partition → the sequence its takeover read through. */
  private readonly readThrough = new Map<number, number>();
  private lastHandled = 0;

  get loadedCount(): number {
    return this.readThrough.size;
  }

  isLoaded(partition: number): boolean {
    return this.readThrough.has(partition);
  }

  /** Whether the live consumer applies an event of `partition` at `seq`: loaded here, and not read by its takeover already. */
  shouldApply(partition: number | undefined, seq: number): partition is number {
    if (partition === undefined) return false;
    const readThrough = this.readThrough.get(partition);
    return readThrough !== undefined && seq > readThrough;
  }

  /** The live consumer applied the event at `seq`; it hands events over in stream order. */
  handled(seq: number): void {
    if (seq > this.lastHandled) this.lastHandled = seq;
  }

  /** The takeover of `partitions` applied every event of theirs up to `seq`. */
  tookOver(partitions: Iterable<number>, seq: number): void {
    for (const p of partitions) this.readThrough.set(p, seq);
  }

  released(partitions: Iterable<number>): void {
    for (const p of partitions) this.readThrough.delete(p);
  }

  /**
   * Per sequence, the loaded partitions whose state holds every event up to it and none after:
   * what the live consumer handled since, or else what the takeover read.
   */
  checkpoints(): Map<number, number[]> {
    const bySeq = new Map<number, number[]>();
    for (const [partition, readThrough] of this.readThrough) {
      const seq = Math.max(this.lastHandled, readThrough);
      const partitions = bySeq.get(seq);
      if (partitions) partitions.push(partition);
      else bySeq.set(seq, [partition]);
    }
    return bySeq;
  }
}
