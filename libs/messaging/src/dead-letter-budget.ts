/**
 * How many dead letters one tenant may write per window, per process: a fixed window, counted
 * per tenant. Past it, a tenant's dead letters are not stored (counted and logged instead) until
 * the next window. The stream's per-subject limits bound what a tenant keeps; this bounds how
 * fast it can make the server write (and discard) them: without it, one key flooding invalid
 * events kept the shared stream writing hundreds of MiB in seconds.
 */
export class DeadLetterBudget {
  private windowStart = Number.NEGATIVE_INFINITY;
  private readonly counts = new Map<string, number>();

  constructor(
    readonly perWindow: number,
    readonly windowMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    if (!Number.isInteger(perWindow) || perWindow < 1) throw new Error('perWindow must be a positive integer');
    if (!(windowMs > 0)) throw new Error('windowMs must be positive');
  }

  /**
   * Takes one dead letter of the tenant's budget. `allowed` false: over budget;
   * `firstRefusal` true for the first refusal of the tenant in this window (log it once).
   */
  take(tenant: string): { allowed: boolean; firstRefusal: boolean } {
    const now = this.nowMs();
    if (now - this.windowStart >= this.windowMs) {
      // A new window: every tenant starts again, and tenants gone quiet leave the map.
      this.windowStart = now;
      this.counts.clear();
    }
    const used = (this.counts.get(tenant) ?? 0) + 1;
    this.counts.set(tenant, used);
    return { allowed: used <= this.perWindow, firstRefusal: used === this.perWindow + 1 };
  }
}

/** Per tenant and process: 600 a minute (10 a second on average). */
export const DEAD_LETTERS_PER_TENANT_PER_MINUTE = 600;
