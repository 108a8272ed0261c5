/**
 * Availability of one service over a window, from the incidents the detector reported on it.
 *
 * Definition (what an auditor is shown, and what the README states):
 * - An instance is down while an incident on it is open: from the incident's `signalAt` (when the
 *   fault was proven) until its `resolvedAt`; an incident still open counts until the end of the
 *   window. Two incidents on one instance at once count once.
 * - Not downtime: `predicted` incidents (a forecast; nothing failed yet), incidents marked as a
 *   suspected detector or network fault (`suspectedCause`, on opening or by a later update: the
 *   instances were probably fine, the observer was not), and service-level incidents (`instance:
 *   '*'`), which group instance incidents that stay open and count on their own.
 * - The service's downtime at a moment is the share of its instances down then; its instances are
 *   those in the tenant's inventory plus any other instance with an incident in the window.
 *   Availability = 1 − (downtime integrated over the window) / window length. One of four
 *   instances down for an hour is fifteen minutes of service downtime.
 * - Time with no incident recorded counts as up, including time before the service was known.
 */

/** One incident on the service as the decision service recorded it (epoch milliseconds). */
export interface DowntimeRecord {
  /** The instance, or `*` for a service-level incident. */
  instance: string;
  kind: string;
  downSince: number;
  /** null while the incident is open. */
  downUntil: number | null;
  suspectedCause: string | null;
}

/** [start, end): the window availability is measured over. */
export interface MeasurementWindow {
  start: number;
  end: number;
}

export interface ServiceAvailability {
  /** 0..1; 1 when nothing was down. */
  availability: number;
  /** Downtime weighted by the share of instances down: the equivalent of the whole service down this long. */
  downtimeMs: number;
  windowMs: number;
  /** Instances the share is taken of. */
  instances: number;
  /** Incidents that counted as downtime inside the window. */
  incidents: number;
}

/** Whether an incident means its instance was down (see the definition above). */
export function countsAsDowntime(r: DowntimeRecord): boolean {
  return r.instance !== '*' && r.kind !== 'predicted' && r.suspectedCause === null;
}

/** Total length of the union of [start, end) intervals. */
function unionLength(intervals: [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: [number, number] | undefined;
  for (const [start, end] of sorted) {
    if (current && start <= current[1]) {
      current[1] = Math.max(current[1], end);
      continue;
    }
    if (current) total += current[1] - current[0];
    current = [start, end];
  }
  if (current) total += current[1] - current[0];
  return total;
}

export function measureAvailability(records: readonly DowntimeRecord[], inventory: readonly string[], window: MeasurementWindow): ServiceAvailability {
  const windowMs = window.end - window.start;
  const downByInstance = new Map<string, [number, number][]>();
  let incidents = 0;
  for (const r of records) {
    if (!countsAsDowntime(r)) continue;
    const start = Math.max(r.downSince, window.start);
    const end = Math.min(r.downUntil ?? window.end, window.end);
    if (end <= start) continue;
    incidents++;
    const intervals = downByInstance.get(r.instance) ?? [];
    intervals.push([start, end]);
    downByInstance.set(r.instance, intervals);
  }
  const instances = new Set([...inventory, ...downByInstance.keys()]).size;
  let instanceDownMs = 0;
  for (const intervals of downByInstance.values()) instanceDownMs += unionLength(intervals);
  const downtimeMs = instances === 0 ? 0 : instanceDownMs / instances;
  const availability = windowMs <= 0 ? 1 : 1 - downtimeMs / windowMs;
  return { availability, downtimeMs, windowMs, instances, incidents };
}

/**
 * `breach` when the service fell below its target and no breach of this episode was reported;
 * `recovered` when it is back at or above the target after one was (the next fall is a new
 * breach); `ok` otherwise — below target and already reported included, so each episode is
 * reported once however many checks see it.
 */
export type AvailabilityVerdict = 'ok' | 'breach' | 'recovered';

export function availabilityVerdict(measured: ServiceAvailability, target: number, breachReported: boolean): AvailabilityVerdict {
  // Compared as time, not as a ratio near 1: the allowed downtime is what the target leaves of the window.
  const below = measured.downtimeMs > (1 - target) * measured.windowMs;
  if (below) return breachReported ? 'ok' : 'breach';
  return breachReported ? 'recovered' : 'ok';
}

const percent = (x: number): string => `${(x * 100).toFixed(4).replace(/\.?0+$/, '')} %`;
const minutes = (ms: number): string => `${(ms / 60_000).toFixed(1)} min`;
const DAY = 86_400_000;
const span = (ms: number): string => (ms % DAY === 0 ? `${ms / DAY} days` : minutes(ms));

/** The breach's reason as an auditor reads it: what was measured, over what, against which target and whose. */
export function availabilityBreachReason(service: string, measured: ServiceAvailability, target: number, targetSources: readonly string[]): string {
  const whose = targetSources.length > 0 ? ` (${targetSources.join(', ')})` : '';
  return (
    `service ${service} was available ${percent(measured.availability)} over the last ${span(measured.windowMs)}, below the availability target ` +
    `${percent(target)}${whose}: ${minutes(measured.downtimeMs)} of downtime weighted by the share of its ${measured.instances} instance(s) down, ` +
    `from ${measured.incidents} incident(s); ${minutes((1 - target) * measured.windowMs)} allowed`
  );
}
