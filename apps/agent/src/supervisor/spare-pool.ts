import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../logger.js';
import type { Release } from '../config/agent-config.js';
import type { LaunchInstance } from './managed-instance.js';
import { waitForReady, type ReadyProbe } from './readiness.js';

/** A started process of the service, ready or getting ready, that takes no traffic and reports no health. */
export interface Spare {
  child: ChildProcess;
  pid: number;
  port: number;
  release: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  ready: boolean;
}

export interface SparePoolOptions {
  tenantId: string;
  service: string;
  /** How many spares to keep. */
  size: number;
  /** The release spares start on: the service's current one. */
  release: Release;
  /** The service's ready probe. */
  probe: ReadyProbe;
  launch: LaunchInstance;
  freePort: () => Promise<number>;
  readyTimeoutMs: number;
  logger: Logger;
  /** Wait before starting again after a spare failed to come up, so a broken release does not spin. */
  retryAfterMs?: number;
  /** Wait after take() before starting the replacement (SPARE_REFILL_DELAY_MS). */
  refillDelayMs?: number;
}

/**
 * How long a taken spare's replacement waits before it is spawned. spawn() forks the agent and
 * holds its event loop for the fork (8–20 ms measured on a 2-core machine, more when loaded), and
 * that loop carries every instance's front: spawned at the moment of a switch, the replacement
 * held up the very requests the switch had just moved to the spare (the heal bench's crash →
 * serving again). The replacement is started once those have gone through; a spare takes far
 * longer than this to become ready anyway.
 */
export const SPARE_REFILL_DELAY_MS = 250;

/**
 * The warm spares of one service: `size` processes of its current release, started and ready.
 * take() hands a ready one over (it is then the caller's, the pool forgets it) and starts a new
 * one in the background. A spare that dies on its own is dropped and replaced.
 */
export class SparePool {
  private readonly spares = new Set<Spare>();
  /** Spares being spawned, not yet in `spares`: counted so that concurrent fills do not start more than `size`. */
  private starting = 0;
  private stopped = false;
  /** The fill() to come (a refill after take(), or a retry after a failed start) and when it is due: at most one is pending. */
  private fillTimer: NodeJS.Timeout | undefined;
  private fillDueAt = Infinity;

  constructor(private readonly options: SparePoolOptions) {}

  get size(): number {
    return this.options.size;
  }

  /** The spares now: pid, port and whether each answers /healthz yet. */
  status(): { pid: number; port: number; release: string; ready: boolean }[] {
    return [...this.spares].map(({ pid, port, release, ready }) => ({ pid, port, release, ready }));
  }

  /** A ready spare of `release`, removed from the pool; undefined when none is ready. Refills in the background, after SPARE_REFILL_DELAY_MS. */
  take(release: string): Spare | undefined {
    const spare = [...this.spares].find((s) => s.ready && s.release === release && s.child.exitCode === null && s.child.signalCode === null);
    if (!spare) return undefined;
    this.spares.delete(spare);
    this.fillAfter(this.options.refillDelayMs ?? SPARE_REFILL_DELAY_MS);
    return spare;
  }

  /** Starts spares until the pool holds `size` (ready or getting ready). */
  fill(): void {
    if (this.stopped) return;
    for (let missing = this.options.size - this.spares.size - this.starting; missing > 0; missing--) void this.startOne();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.fillTimer);
    const spares = [...this.spares];
    this.spares.clear();
    for (const spare of spares) spare.child.kill('SIGKILL');
    await Promise.all(spares.map((s) => s.exited));
  }

  private async startOne(): Promise<void> {
    const { tenantId, service, release, logger } = this.options;
    this.starting += 1;
    let spare: Spare;
    try {
      const port = await this.options.freePort();
      const child = this.options.launch({ tenantId, service, instance: `${service}-spare` }, port, release, 'spare');
      if (child.pid === undefined) {
        child.once('error', () => undefined);
        throw new Error(`could not spawn a spare of ${tenantId}/${service}`);
      }
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      spare = { child, pid: child.pid, port, release: release.version, exited, ready: false };
    } catch (error) {
      this.starting -= 1;
      logger.error({ tenantId, service, err: error }, 'spare could not be started');
      this.fillAfter(this.options.retryAfterMs ?? 1_000);
      return;
    }
    this.starting -= 1;
    if (this.stopped) {
      spare.child.kill('SIGKILL');
      return;
    }
    this.spares.add(spare);
    void spare.exited.then(() => {
      // Still in the pool: it died on its own (taken spares are the instance's business).
      if (this.spares.delete(spare) && !this.stopped) {
        logger.warn({ tenantId, service, sparePid: spare.pid }, 'spare exited; starting another');
        this.fillAfter(this.options.retryAfterMs ?? 1_000);
      }
    });
    const readiness = await waitForReady({ port: spare.port, pid: spare.pid, probe: this.options.probe, timeoutMs: this.options.readyTimeoutMs, exited: spare.exited });
    if (readiness === 'ready') {
      spare.ready = true;
      logger.info({ tenantId, service, sparePid: spare.pid, port: spare.port }, 'spare ready');
    } else if (this.spares.has(spare)) {
      logger.error({ tenantId, service, sparePid: spare.pid, readiness }, 'spare not ready; discarded');
      spare.child.kill('SIGKILL');
    }
  }

  /** fill() in `ms`, unless one is due sooner already (it fills for both). */
  private fillAfter(ms: number): void {
    const dueAt = Date.now() + ms;
    if (this.stopped || dueAt >= this.fillDueAt) return;
    clearTimeout(this.fillTimer);
    this.fillDueAt = dueAt;
    this.fillTimer = setTimeout(() => {
      this.fillTimer = undefined;
      this.fillDueAt = Infinity;
      this.fill();
    }, ms);
    this.fillTimer.unref();
  }
}
