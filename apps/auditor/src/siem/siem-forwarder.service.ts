import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource, type QueryRunner } from 'typeorm';
import type { ChainedRow } from '@autoheal/evidence';
import { createLogger } from '@autoheal/telemetry';
import { auditorMetrics } from '../auditor.metrics.js';
import { CLOCK, type Clock } from '../clock.js';
import { advancedCursors, backoffMs, checkContiguous, mergeBatch, siemLag, type TenantPosition } from './siem-batch.js';
import { SiemError, SiemErrorCode } from './siem.errors.js';
import { siemRepository as repo } from './siem.repository.js';
import { SIEM_SETTINGS, type SiemSettings } from './siem-settings.js';
import { deliverSession } from './siem-transport.js';
import { octetFrame, syslogMessage } from './syslog-format.js';

/** What one cycle did: sent a full batch (more may wait), caught up, or another replica forwards. */
export type CycleOutcome = { kind: 'sent'; rows: number; full: boolean } | { kind: 'idle' } | { kind: 'standby' };

/**
 * Forwards every audit row to the SIEM: each cycle reads the rows after each tenant's cursor (at
 * most AUDITOR_SIEM_BATCH_SIZE, tenants interleaved by time, each in seq order), sends them in one
 * TLS session, and moves the cursors only once the receiver confirmed the session
 * (siem-transport.ts). A failure moves nothing: the next cycle, after a backoff, sends the same
 * rows again — at least once, in order per tenant, from a cursor in the database that survives
 * restarts. One replica forwards at a time (an advisory lock on the connection it keeps; the
 * others stand by and take over when it goes).
 */
@Injectable()
export class SiemForwarder implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = createLogger('auditor');
  private runner: QueryRunner | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private failures = 0;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(SIEM_SETTINGS) private readonly settings: SiemSettings | null,
  ) {}

  onApplicationBootstrap(): void {
    if (this.settings === null) return;
    this.log.info({ destination: this.settings.destination, host: this.settings.endpoint.host, port: this.settings.endpoint.port, format: this.settings.syslog.format }, 'forwarding the audit trail to the SIEM');
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.release();
  }

  private async run(): Promise<void> {
    const settings = this.settings!;
    while (!this.stopped) {
      let delay = settings.pollMs;
      try {
        const outcome = await this.cycle();
        this.failures = 0;
        if (outcome.kind === 'sent' && outcome.full) delay = 0;
      } catch (error) {
        this.failures++;
        const code = error instanceof SiemError ? error.code : SiemErrorCode.Database;
        auditorMetrics.siemFailures.inc({ reason: code });
        delay = backoffMs(this.failures, settings.pollMs, settings.backoffMaxMs, Math.random());
        this.log.warn({ reason: code, err: error, failures: this.failures, retryInMs: delay }, 'SIEM forwarding failed; the same rows will be sent again');
        // A database error may have cost the connection (and with it the lock): start afresh.
        if (code === SiemErrorCode.Database) await this.release();
      }
      if (delay > 0 && !this.stopped) await this.sleep(delay);
    }
  }

  /** One cycle; public for tests, which may also drive it by hand. */
  async cycle(): Promise<CycleOutcome> {
    const settings = this.settings;
    if (settings === null) return { kind: 'idle' };
    const runner = await this.leader();
    if (runner === null) return { kind: 'standby' };
    const { positions, rows } = await this.read(runner, settings.destination, settings.batchSize);
    this.setLag(positions, new Map());
    if (rows.length === 0) return { kind: 'idle' };
    const cursors = new Map(positions.map((p) => [p.tenantId, p.cursorSeq]));
    const gap = checkContiguous(rows, cursors);
    if (gap !== null) throw new SiemError(SiemErrorCode.Gap, gap);
    const frames = Buffer.concat(rows.map((row) => octetFrame(syslogMessage(row, settings.syslog))));
    await deliverSession(settings.endpoint, frames);
    const moved = advancedCursors(rows);
    try {
      await repo.advance(runner.manager, settings.destination, moved, this.clock.now());
    } catch (error) {
      throw new SiemError(SiemErrorCode.Database, `delivered, but the cursor could not be moved (the rows will be sent again): ${String(error)}`);
    }
    auditorMetrics.siemRowsForwarded.inc(rows.length);
    this.setLag(positions, moved);
    return { kind: 'sent', rows: rows.length, full: rows.length === settings.batchSize };
  }

  /** The connection holding the destination's lock, or null while another replica holds it. */
  private async leader(): Promise<QueryRunner | null> {
    if (this.runner !== null) return this.runner;
    const runner = this.db.createQueryRunner();
    try {
      await runner.connect();
      if (!(await repo.tryLock(runner.manager, this.settings!.destination))) {
        await runner.release();
        return null;
      }
    } catch (error) {
      await runner.release().catch(() => undefined);
      throw new SiemError(SiemErrorCode.Database, `cannot take the forwarding lock: ${String(error)}`);
    }
    this.runner = runner;
    return runner;
  }

  private async read(runner: QueryRunner, destination: string, batchSize: number): Promise<{ positions: TenantPosition[]; rows: ChainedRow[] }> {
    try {
      await runner.startTransaction('REPEATABLE READ');
      await repo.readScope(runner.manager);
      const positions = await repo.positions(runner.manager, destination);
      const pending = positions.filter((p) => p.headSeq > p.cursorSeq);
      const perTenant: ChainedRow[][] = [];
      for (const p of pending) perTenant.push(await repo.rowsAfter(runner.manager, p.tenantId, p.cursorSeq, batchSize));
      await runner.commitTransaction();
      return { positions, rows: mergeBatch(perTenant, batchSize) };
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw new SiemError(SiemErrorCode.Database, `cannot read the rows to forward: ${String(error)}`);
    }
  }

  private setLag(positions: readonly TenantPosition[], moved: ReadonlyMap<string, number>): void {
    const now = this.clock.now();
    // After a delivery the oldest pending time of a tenant that moved is not known without a read: count its rows, age it from the next cycle.
    const after = positions.map((p) => (moved.has(p.tenantId) ? { ...p, cursorSeq: Math.max(p.cursorSeq, moved.get(p.tenantId)!), oldestPendingAt: null } : p));
    const lag = siemLag(after, now);
    auditorMetrics.siemLagRows.set(lag.rows);
    auditorMetrics.siemLagSeconds.set(lag.seconds);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async release(): Promise<void> {
    const runner = this.runner;
    this.runner = null;
    if (runner === null) return;
    // The connection goes back to the pool, its session with it: the lock must go first. When
    // that fails the connection is broken, and the lock ended with its session.
    await runner.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await runner.release().catch(() => undefined);
  }
}
