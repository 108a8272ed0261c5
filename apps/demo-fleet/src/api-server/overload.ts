/**
 * How an instance falls behind under more load than it can serve: the demo's latency storm and
 * saturation are caused by demand from outside (tools/dev/demo-load.js), not by a fault the
 * instance is told to simulate, so that a remediation which takes load off the instance (throttle
 * sheds it, scale_out spreads it) is what ends them.
 *
 * Each loaded route admits `capacityPerSecond` requests in any one second (counted separately,
 * since they stand for different resources); beyond that:
 * - `orders` (`/v1/orders…`) waits on a bounded downstream (a connection pool): a request beyond
 *   capacity queues and is answered `queueDelayMs` late → latency;
 * - `reports` (`/v1/reports`) is CPU-bound: while more arrive than the process can render, its
 *   event loop is held busy for `busyMs` twice a second → event-loop lag (saturation).
 * Only requests that reach the route count: what the SDK's admission gate sheds (a throttle) never does.
 */
export const LOADED_ROUTES = ['orders', 'reports'] as const;
export type LoadedRoute = (typeof LOADED_ROUTES)[number];

export interface OverloadSettings {
  /** Requests a route serves at full speed in one second; 0: no limit (nothing falls behind). */
  capacityPerSecond: number;
  /** orders: how late a request beyond capacity is answered. */
  queueDelayMs: number;
  /** reports: how long the event loop is held busy, twice a second, while beyond capacity. */
  busyMs: number;
}

/**
 * Sized against the demo rules (deploy/demo/detector-rules.json): a late order's 1.5 s is above the
 * latency rule's 1 s p99 (and no window's p99 lands between the anomaly's baseline and the
 * threshold: a request is either on time or 1.5 s late, so the static rule fires first and the
 * latency anomaly stays suppressed); two 250 ms holds a second put the p99 of the event-loop delay
 * (what the SDK reports) at about 260 ms, above the saturation rule's 200 ms. One hold a second
 * does not: measured, the p99 of a window with a single long delay stays near the loop's usual
 * 10-30 ms. The cost is half a core while the saturation lasts.
 */
export const DEFAULT_OVERLOAD_SETTINGS: Readonly<Omit<OverloadSettings, 'capacityPerSecond'>> = Object.freeze({
  queueDelayMs: 1500,
  busyMs: 250,
});

const WINDOW_MS = 1000;

/** Which loaded route a request is for, or null (health checks and unknown paths never load anything). */
export function loadedRouteOf(url: string): LoadedRoute | null {
  const path = new URL(url, 'http://localhost').pathname;
  if (path === '/v1/orders' || path.startsWith('/v1/orders/')) return 'orders';
  if (path === '/v1/reports') return 'reports';
  return null;
}

/**
 * Arrivals of one route in the last second, from timestamps (ms, monotonic) the caller passes in.
 * Holds at most one second of arrivals.
 */
export class ArrivalRate {
  private readonly arrivals: number[] = [];

  /** Records one arrival at `nowMs`; returns the arrivals in the second up to it, this one included. */
  record(nowMs: number): number {
    this.arrivals.push(nowMs);
    return this.count(nowMs);
  }

  count(nowMs: number): number {
    let expired = 0;
    while (expired < this.arrivals.length && this.arrivals[expired] <= nowMs - WINDOW_MS) expired++;
    if (expired > 0) this.arrivals.splice(0, expired);
    return this.arrivals.length;
  }
}

function beyondCapacity(arrivalsInLastSecond: number, settings: OverloadSettings): boolean {
  return settings.capacityPerSecond > 0 && arrivalsInLastSecond > settings.capacityPerSecond;
}

/** orders: how late this request is answered, given the arrivals in the second up to it (itself included). */
export function queueDelayMs(arrivalsInLastSecond: number, settings: OverloadSettings): number {
  return beyondCapacity(arrivalsInLastSecond, settings) ? settings.queueDelayMs : 0;
}

/** reports: how long to hold the event loop now, given the arrivals in the last second. */
export function busyMsFor(arrivalsInLastSecond: number, settings: OverloadSettings): number {
  return beyondCapacity(arrivalsInLastSecond, settings) ? settings.busyMs : 0;
}

/**
 * Keeps the event loop busy for `ms` of `clock` (monotonic ms): what a CPU-bound handler that
 * cannot keep up does to a Node process. Timers, I/O and heartbeats wait behind it.
 */
export function holdEventLoop(ms: number, clock: () => number): void {
  const until = clock() + ms;
  while (clock() < until) {
    // busy on purpose: nothing else runs until `until`
  }
}
