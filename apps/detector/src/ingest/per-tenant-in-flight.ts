/**
 * At most `limit` tasks of one tenant run at once; the tenant's others wait their turn, in the
 * order they came. Other tenants are not held by it: each tenant has its own count.
 */
export class PerTenantInFlight {
  private readonly tenants = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the limit must be a whole number of at least 1 (got ${limit})`);
  }

  async run<T>(tenantId: string, task: () => Promise<T>): Promise<T> {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      tenant = { running: 0, waiting: [] };
      this.tenants.set(tenantId, tenant);
    }
    const own = tenant;
    // A finished task hands its place to the next waiting one (the count stays), see below.
    if (own.running >= this.limit) await new Promise<void>((resume) => own.waiting.push(resume));
    else own.running++;
    try {
      return await task();
    } finally {
      const next = own.waiting.shift();
      if (next) next();
      else if (--own.running === 0) this.tenants.delete(tenantId);
    }
  }

  /** Tasks of the tenant running now and waiting (for tests and metrics). */
  load(tenantId: string): { running: number; waiting: number } {
    const tenant = this.tenants.get(tenantId);
    return { running: tenant?.running ?? 0, waiting: tenant?.waiting.length ?? 0 };
  }
}
