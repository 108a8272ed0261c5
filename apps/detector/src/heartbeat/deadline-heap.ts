/**
 * A min-heap of deadlines keyed by instance, with an index so that moving or removing one
 * instance's deadline costs O(log n). The detector asks it for the earliest deadline instead
 * of scanning every instance on each tick.
 */
export class DeadlineHeap {
  private readonly keys: string[] = [];
  private readonly deadlines: number[] = [];
  private readonly positions = new Map<string, number>();

  get size(): number {
    return this.keys.length;
  }

  /** Sets (adds or moves) the deadline of `key`. */
  set(key: string, deadline: number): void {
    const at = this.positions.get(key);
    if (at === undefined) {
      this.keys.push(key);
      this.deadlines.push(deadline);
      this.positions.set(key, this.keys.length - 1);
      this.siftUp(this.keys.length - 1);
      return;
    }
    const previous = this.deadlines[at];
    this.deadlines[at] = deadline;
    if (deadline < previous) this.siftUp(at);
    else this.siftDown(at);
  }

  delete(key: string): boolean {
    const at = this.positions.get(key);
    if (at === undefined) return false;
    const last = this.keys.length - 1;
    this.swap(at, last);
    this.keys.pop();
    this.deadlines.pop();
    this.positions.delete(key);
    if (at < this.keys.length) {
      this.siftDown(at);
      this.siftUp(at);
    }
    return true;
  }

  has(key: string): boolean {
    return this.positions.has(key);
  }

  peek(): { key: string; deadline: number } | undefined {
    return this.keys.length === 0 ? undefined : { key: this.keys[0], deadline: this.deadlines[0] };
  }

  /** Removes and returns every entry whose deadline is at or before `now`, earliest first. */
  popDue(now: number): { key: string; deadline: number }[] {
    const due: { key: string; deadline: number }[] = [];
    while (this.keys.length > 0 && this.deadlines[0] <= now) {
      const top = { key: this.keys[0], deadline: this.deadlines[0] };
      this.delete(top.key);
      due.push(top);
    }
    return due;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.deadlines[parent] <= this.deadlines[i]) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && this.deadlines[left] < this.deadlines[smallest]) smallest = left;
      if (right < n && this.deadlines[right] < this.deadlines[smallest]) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    if (a === b) return;
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.deadlines[a], this.deadlines[b]] = [this.deadlines[b], this.deadlines[a]];
    this.positions.set(this.keys[a], a);
    this.positions.set(this.keys[b], b);
  }
}
