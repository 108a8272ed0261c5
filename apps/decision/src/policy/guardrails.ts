import type { RemediationAction } from '@autoheal/contracts';
import { PLACEMENT_ACTIONS, type ProfileThresholds } from './compliance-presets.js';
import type { InventoryInstance, InventoryService, TenantDocument, Window } from './tenant-document.js';

/** Every rule that can stop, hold or gate an action. The values are published as `rule` on compliance events. */
export enum GuardrailRule {
  Residency = 'residency',
  Isolation = 'isolation',
  ApprovalRequired = 'approval_required',
  ChangeFreeze = 'change_freeze',
  HourlyCap = 'max_auto_actions_per_hour',
  Cooldown = 'cooldown',
  ServiceConcurrency = 'service_concurrency',
  CircuitBreaker = 'circuit_breaker',
  ActionNotAllowed = 'action_not_allowed',
  NoProfile = 'no_profile',
  MaintenanceWindow = 'maintenance_window',
}

/** The window of the list that holds at `now` (start inclusive, end exclusive), if any. */
export function activeWindow(windows: readonly Window[] | undefined, now: number): Window | null {
  for (const w of windows ?? []) {
    if (Date.parse(w.start) <= now && now < Date.parse(w.end)) return w;
  }
  return null;
}

export function isPlacement(action: RemediationAction): boolean {
  return PLACEMENT_ACTIONS.includes(action);
}

/** The inventory's service and, for an instance incident, its instance (null when not declared). */
export function findTarget(doc: TenantDocument, service: string, instance: string): { service: InventoryService | null; instances: InventoryInstance[] | null } {
  const s = doc.inventory.services.find((x) => x.service === service) ?? null;
  if (!s) return { service: null, instances: null };
  if (instance === '*') return { service: s, instances: s.instances };
  const i = s.instances.find((x) => x.instance === instance);
  return { service: s, instances: i ? [i] : null };
}

/**
 * Where a placement action puts workload. replace and scale_out stay in the region and pool of the
 * instance acted on (for a service-level incident, of every instance of the service); failover
 * moves to the service's standby regions, keeping the pool. Null when the inventory does not say.
 */
export function placementOf(
  action: RemediationAction,
  doc: TenantDocument,
  service: string,
  instance: string,
): { regions: string[]; pools: ('shared' | 'dedicated')[] } | null {
  const { service: s, instances } = findTarget(doc, service, instance);
  if (!s || !instances) return null;
  const pools = [...new Set(instances.map((i) => i.pool))].sort();
  if (action === 'failover') return { regions: [...(s.standbyRegions ?? [])].sort(), pools };
  return { regions: [...new Set(instances.map((i) => i.region))].sort(), pools };
}

/** Backoff on one target: cooldownMs × 2^(consecutive − 1). Infinite once the doubling overflows. */
export function cooldownUntil(profile: Pick<ProfileThresholds, 'cooldownMs'>, last: { at: number; consecutive: number } | undefined): number | null {
  if (!last) return null;
  return last.at + profile.cooldownMs * 2 ** Math.max(0, last.consecutive - 1);
}

/**
 * How many instances of a service may be acted on at once: the share of its instances, rounded
 * up, never fewer than one. (Rounded to 1e-9 first so that 0.1 × 30 is 3, not 4.)
 */
export function concurrencyLimit(profile: Pick<ProfileThresholds, 'maxConcurrentShare'>, serviceInstanceCount: number): number {
  const exact = Math.round(profile.maxConcurrentShare * serviceInstanceCount * 1e9) / 1e9;
  return Math.max(1, Math.ceil(exact));
}
