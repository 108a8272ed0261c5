/**
 * The circuit breakers' rules: pure functions over counts. Two levels, one owner (the decision
 * service) for the judgement "this looks broken":
 *
 * - **A tenant's breaker** opens on that tenant's own storm: a share of the instances ITS
 *   inventory declares failing within the window (with a minimum count). It pauses that tenant's
 *   automatic actions only. Incidents on instances (or services) the tenant's inventory does not
 *   declare never count — anyone holding the tenant's producer key can invent instance names.
 * - **The global breaker** opens only on evidence across tenants: several tenants storming at
 *   once, or incidents the detector marked as a suspected detector or network fault (a fact
 *   about the detector itself that no tenant can set). One tenant alone can never open it.
 */
export interface BreakerOptions {
  /** Incidents that opened within this long before `now` count as arriving together. */
  windowMs: number;
  /** A tenant storms when this share (0..1) of its declared instances fail together … */
  tenantShare: number;
  /** … and at least this many distinct declared instances (a tenant of two is not a storm). */
  tenantMinInstances: number;
  /** A tenant that declares no instance at all storms when this many distinct instances fail (its own breaker only). */
  noInventoryMinInstances: number;
  /** The global breaker opens when this many tenants storm at once … */
  minTenants: number;
  /** … or, when fewer, this share (0..1) of the tenants with a declared inventory — never fewer than two tenants. */
  tenantsShare: number;
  /** This many counted incidents marked as a suspected detector or network fault open the global breaker. */
  minSuspected: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = {
  windowMs: 60_000,
  tenantShare: 0.3,
  tenantMinInstances: 3,
  noInventoryMinInstances: 5,
  minTenants: 3,
  tenantsShare: 0.5,
  minSuspected: 2,
};

/** However the options are set, one tenant never opens the global breaker. */
export const MIN_STORMING_TENANTS = 2;

/**
 * How an incident stands against its tenant's inventory, which decides what it counts toward:
 * `declared` (the inventory lists its service and instance): the tenant's breaker and the global
 * one; `undeclared` (not listed, or the tenant has no document at all — its decisions escalate
 * anyway): nothing (reported instead); `no_inventory` (the tenant's document declares no
 * instance): its own tenant's breaker only, under the floor `noInventoryMinInstances`.
 */
export type InventoryStanding = 'declared' | 'undeclared' | 'no_inventory';

/** The part of a tenant document the breaker reads. */
export interface DeclaredInventory {
  services: readonly { service: string; instances: readonly { instance: string }[] }[];
}

/** Instances the inventory declares (0: none, or no inventory at all). */
export function declaredInstanceCount(inventory: DeclaredInventory | null | undefined): number {
  return (inventory?.services ?? []).reduce((n, s) => n + s.instances.length, 0);
}

/** See InventoryStanding; `inventory` null: the tenant has no document. A service-level incident (instance `*`) stands as its service does. */
export function inventoryStanding(inventory: DeclaredInventory | null, service: string, instance: string): InventoryStanding {
  if (inventory === null) return 'undeclared';
  if (declaredInstanceCount(inventory) === 0) return 'no_inventory';
  const declared = inventory.services.find((s) => s.service === service);
  if (!declared) return 'undeclared';
  return instance === '*' || declared.instances.some((i) => i.instance === instance) ? 'declared' : 'undeclared';
}

/** Why an incident counts toward no breaker, for the decision's reason; null when it counts. */
export function uncountedReason(standing: InventoryStanding, service: string, instance: string): string | null {
  if (standing !== 'undeclared') return null;
  return `not counted toward any circuit breaker: ${service}/${instance} is not in the tenant's inventory`;
}

/** Whether an incident at `at` lies in the breaker's window ending at `now`. */
export function inBreakerWindow(at: number, now: number, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): boolean {
  return at <= now && now - at < options.windowMs;
}

/**
 * One tenant's window: how many instances its inventory declares, and how many distinct counted
 * instances (declared ones; any, for a tenant without inventory) have an incident still failing.
 */
export interface TenantWindow {
  declaredInstances: number;
  failing: number;
}

/** The failing count once the incident being decided (not stored yet) is added, when it counts and its instance is not counted already. */
export function withIncident(
  window: TenantWindow,
  incident: { at: number; standing: InventoryStanding; serviceLevel: boolean; alreadyCounted: boolean },
  now: number,
  options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
): TenantWindow {
  const adds = !incident.alreadyCounted && !incident.serviceLevel && incident.standing !== 'undeclared' && inBreakerWindow(incident.at, now, options);
  return adds ? { ...window, failing: window.failing + 1 } : window;
}

/** How many failing instances make this tenant a storm. */
export function tenantStormThreshold(declaredInstances: number, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): number {
  if (declaredInstances === 0) return options.noInventoryMinInstances;
  return Math.max(options.tenantMinInstances, Math.ceil(options.tenantShare * declaredInstances - 1e-9));
}

/** Whether the tenant's own window is a storm (see tenantStormThreshold). */
export function tenantStorms(window: TenantWindow, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): boolean {
  return window.failing >= tenantStormThreshold(window.declaredInstances, options);
}

/** Whether the tenant's breaker opens on its window, and the reason recorded with it. */
export function tenantBreakerVerdict(tenantId: string, window: TenantWindow, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): { trip: boolean; reason: string } {
  const windowText = `${options.windowMs / 1000}s`;
  const needed = tenantStormThreshold(window.declaredInstances, options);
  const of =
    window.declaredInstances === 0
      ? `${window.failing} instances of a tenant that declares no inventory (threshold ${needed})`
      : `${window.failing} of ${window.declaredInstances} declared instances (${Math.round((100 * window.failing) / window.declaredInstances)}%; threshold ${Math.round(options.tenantShare * 100)}%, at least ${options.tenantMinInstances})`;
  if (window.failing < needed) return { trip: false, reason: `${of} failing within ${windowText}: below the tenant breaker's threshold` };
  return {
    trip: true,
    reason: `tenant_breaker: ${tenantId}: ${of} failed within ${windowText}; stopping ${tenantId}'s automatic actions until a human resumes them`,
  };
}

/** A tenant's row in the global count. */
export interface TenantFailures {
  tenantId: string;
  declaredInstances: number;
  /** Distinct declared instances failing in the window. */
  failing: number;
}

/**
 * The tenants whose declared inventory storms. A tenant without inventory never counts here:
 * nothing it reports can be checked, so it may pause itself but not everyone.
 */
export function stormingTenants(rows: readonly TenantFailures[], options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): string[] {
  return rows.filter((r) => r.declaredInstances > 0 && tenantStorms(r, options)).map((r) => r.tenantId);
}

/** How many tenants must storm at once: `minTenants`, or fewer in a small deployment (`tenantsShare`), never fewer than two. */
export function tenantsNeeded(declaredTenants: number, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): number {
  return Math.max(MIN_STORMING_TENANTS, Math.min(options.minTenants, Math.ceil(options.tenantsShare * declaredTenants - 1e-9)));
}

/** What the global rule looks at. */
export interface GlobalWindow {
  /** Counted incidents (not undeclared) in the window marked as a suspected fault, and their causes. */
  suspected: number;
  suspectedCauses: readonly string[];
  storming: readonly string[];
  /** Tenants whose inventory declares at least one instance. */
  declaredTenants: number;
}

/** Cheap first test: false when the suspected count alone cannot trip and no tenant storms. */
export function mightTripGlobal(suspected: number, tenantStorming: boolean, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): boolean {
  return tenantStorming || suspected >= options.minSuspected;
}

/**
 * Whether the global breaker opens: several tenants storming at once (restarting everyone's
 * healthy instances because something shared broke turns a blip into an outage), or incidents
 * the detector marked as a suspected fault of its own or of the network. Once open it stays open
 * until a human resumes it (the caller's state, not this function's).
 */
export function globalBreakerVerdict(window: GlobalWindow, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): { trip: boolean; reason: string } {
  const windowText = `${options.windowMs / 1000}s`;
  const needed = tenantsNeeded(window.declaredTenants, options);
  if (window.suspected >= options.minSuspected) {
    const causes = [...new Set(window.suspectedCauses)].join(', ');
    return {
      trip: true,
      reason: `circuit_breaker: ${window.suspected} incidents marked as a suspected ${causes} fault within ${windowText} (threshold ${options.minSuspected}); stopping all automatic actions until a human resumes`,
    };
  }
  if (window.storming.length >= needed) {
    const names = [...window.storming].sort().join(', ');
    return {
      trip: true,
      reason: `circuit_breaker: ${window.storming.length} of ${window.declaredTenants} tenants storming within ${windowText} (${names}; threshold ${needed}); more likely something they share than the services; stopping all automatic actions until a human resumes`,
    };
  }
  return {
    trip: false,
    reason: `${window.suspected} suspected-fault incidents and ${window.storming.length} of ${window.declaredTenants} tenants storming within ${windowText}: below the global breaker's thresholds`,
  };
}
