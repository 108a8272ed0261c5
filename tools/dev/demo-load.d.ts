// Types for demo-load.js, so the end-to-end tests drive the demo's load type-checked.
export interface LoadTarget {
  tenantId: string;
  service: string;
  instance: string;
  state: string;
  port: number;
}

export interface StartLoadOptions {
  /** The agent's instances (agent.status); re-read every second. */
  listInstances: () => Promise<LoadTarget[]>;
  tenantId: string;
  service: string;
  /** Pins the load on this instance; absent: spread over every running instance of the service. */
  instance?: string;
  path: string;
  ratePerSecond: number;
  durationMs?: number;
  timeoutMs?: number;
}

export interface LoadStats {
  sent: number;
  ok: number;
  /** 503s: requests an instance's admission gate shed (a throttle). */
  shed: number;
  otherStatus: number;
  failed: number;
  /** 2xx answers per instance. */
  byInstance: Record<string, number>;
  /** The instances the load went to at the last refresh. */
  targets: string[];
}

export interface RunningLoad {
  stats(): LoadStats;
  /** Stops sending; resolves with the final counts once answers in flight had a moment to arrive. */
  stop(): Promise<LoadStats>;
  done: Promise<LoadStats>;
}

export function startLoad(options: StartLoadOptions): RunningLoad;
export const DEMO_LOADS: Readonly<{ storm: { path: string; ratePerSecond: number }; saturation: { path: string; ratePerSecond: number } }>;
export const DEMO_CAPACITY_RPS: number;
