export interface InFlightOptions {
  /** Starts before the tenant's routine tasks waiting (default: routine). */
  urgent?: boolean;
  /** Tasks of one key keep their order: an urgent one takes its key's routine ones waiting along, ahead of it. */
  key?: string;
}

interface Waiter {
  key: string | undefined;
  resume: () => void;
}

interface TenantLoad {
  running: number;
  urgent: Waiter[];
  routine: Waiter[];
}

/**
 * At most `limit` tasks of one tenant run at once; the tenant's others wait their turn, in the
 * order they came, its urgent ones first. Other tenants are not held by it: each tenant has its own count.
 */
export class PerTenantInFlight {
  private readonly tenants = new Map<string, TenantLoad>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the limit must be a whole number of at least 1 (got ${limit})`);
  }

  async run<T>(tenantId: string, task: () => Promise<T>, options: InFlightOptions = {}): Promise<T> {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      tenant = { running: 0, urgent: [], routine: [] };
      this.tenants.set(tenantId, tenant);
    }
    const own = tenant;
    // A finished task hands its place to the next waiting one (the count stays), see below.
    if (own.running >= this.limit) await new Promise<void>((resume) => wait(own, { key: options.key, resume }, options.urgent === true));
    else own.running++;
    try {
      return await task();
    } finally {
      const next = own.urgent.shift() ?? own.routine.shift();
      if (next) next.resume();
      else if (--own.running === 0) this.tenants.delete(tenantId);
    }
  }

  /** Tasks of the tenant running now and waiting (for tests and metrics). */
  load(tenantId: string): { running: number; waiting: number } {
    const tenant = this.tenants.get(tenantId);
    return { running: tenant?.running ?? 0, waiting: (tenant?.urgent.length ?? 0) + (tenant?.routine.length ?? 0) };
  }
}

function wait(tenant: TenantLoad, waiter: Waiter, urgent: boolean): void {
  if (!urgent) {
    tenant.routine.push(waiter);
    return;
  }
  if (waiter.key !== undefined) {
    const own = tenant.routine.filter((w) => w.key === waiter.key);
    if (own.length > 0) {
      tenant.routine = tenant.routine.filter((w) => w.key !== waiter.key);
      tenant.urgent.push(...own);
    }
  }
  tenant.urgent.push(waiter);
}
