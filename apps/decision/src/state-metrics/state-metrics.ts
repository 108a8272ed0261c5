import type { DowntimeRecord } from '../compliance/availability.js';
import { measureAvailability } from '../compliance/availability.js';
import type { TenantDocument } from '../planning/policy-port.js';
import { profileOf } from '../tenants/tenants.service.js';

/**
 * What the decision service's state gauges show, computed from one read of its tables. Pure: the
 * sampler reads, this decides the figures, the sampler sets the gauges.
 */
export interface StateSnapshot {
  globalBreakerOpen: boolean;
  /** Tenants whose breaker has a row; a tenant without one never tripped and is closed. */
  tenantBreakers: readonly { tenantId: string; open: boolean }[];
  approvals: readonly { tenantId: string; pending: number; oldestDecidedAt: Date }[];
  /** Tenants with a document: those with a profile to be measured against. */
  tenants: readonly { tenantId: string; document: TenantDocument }[];
  /** Every incident that overlaps the availability window, of any tenant. */
  downtime: readonly (DowntimeRecord & { tenantId: string; service: string })[];
}

export interface StateFigures {
  globalBreakerOpen: 0 | 1;
  tenantBreakerOpen: { tenant: string; open: 0 | 1 }[];
  approvals: { tenant: string; pending: number; oldestAgeSeconds: number }[];
  availability: { tenant: string; service: string; ratio: number }[];
  targets: { tenant: string; target: number }[];
}

/**
 * Every tenant with a document gets a series for its breaker, its approvals (0 when none waits)
 * and its target, so a dashboard shows each tenant and an alert's absence means "closed", not
 * "unknown". Availability is measured per service exactly as the availability check does
 * (availability.ts), over the window ending `now`, for every service of the inventory and every
 * other service with an incident in the window; a tenant's figure is its worst service's.
 */
export function stateFigures(snapshot: StateSnapshot, now: Date, windowMs: number): StateFigures {
  const window = { start: now.getTime() - windowMs, end: now.getTime() };
  const tenantOpen = new Map(snapshot.tenantBreakers.map((b) => [b.tenantId, b.open]));
  const approvals = new Map(snapshot.approvals.map((a) => [a.tenantId, a]));
  const tenantIds = new Set([...snapshot.tenants.map((t) => t.tenantId), ...tenantOpen.keys(), ...approvals.keys()]);
  const downtimeByService = new Map<string, DowntimeRecord[]>();
  for (const r of snapshot.downtime) {
    const key = `${r.tenantId}\u0000${r.service}`;
    const list = downtimeByService.get(key) ?? [];
    list.push(r);
    downtimeByService.set(key, list);
  }

  const figures: StateFigures = { globalBreakerOpen: snapshot.globalBreakerOpen ? 1 : 0, tenantBreakerOpen: [], approvals: [], availability: [], targets: [] };
  for (const tenant of [...tenantIds].sort()) {
    figures.tenantBreakerOpen.push({ tenant, open: tenantOpen.get(tenant) ? 1 : 0 });
    const waiting = approvals.get(tenant);
    figures.approvals.push({
      tenant,
      pending: waiting?.pending ?? 0,
      oldestAgeSeconds: waiting ? Math.max(0, (now.getTime() - waiting.oldestDecidedAt.getTime()) / 1000) : 0,
    });
  }
  for (const { tenantId, document } of [...snapshot.tenants].sort((a, b) => a.tenantId.localeCompare(b.tenantId))) {
    figures.targets.push({ tenant: tenantId, target: profileOf(document).availabilityTarget });
    const inventory = new Map(document.inventory.services.map((s) => [s.service, s.instances.map((i) => i.instance)]));
    const services = new Set([...inventory.keys(), ...snapshot.downtime.filter((r) => r.tenantId === tenantId).map((r) => r.service)]);
    for (const service of [...services].sort()) {
      const measured = measureAvailability(downtimeByService.get(`${tenantId}\u0000${service}`) ?? [], inventory.get(service) ?? [], window);
      figures.availability.push({ tenant: tenantId, service, ratio: measured.availability });
    }
  }
  return figures;
}
