import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { newEventId } from '@autoheal/contracts';
import { createLogger } from '@autoheal/telemetry';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { AUDIT_READ, auditEntryForReadWindow, type AuditEntry } from './audit-entry.js';
import { activeTraceId } from './active-trace.js';
import { auditLogRepository as repo } from './audit-log.repository.js';
import { nextDueMs, noteRead, takeClosedWindows, type ReadNote, type ReadWindow } from './read-records.js';
import { ROW_SEALER, type RowSealer } from '../evidence/row-sealer.js';

const log = createLogger('auditor');

/** Open windows at most (distinct tenant × key × outcome); a flood over random tenant ids cannot grow memory past it. */
export const MAX_OPEN_READ_WINDOWS = 10_000;

/**
 * Records reads of the audit API (and refused requests) in the trail they read, one row per
 * tenant, key and outcome per window (`AUDITOR_READ_RECORD_WINDOW_SECONDS`): the row is appended
 * when the window closes, or when the service shuts down. A tenant without a chain gets no row
 * (a read of it starts none). Appending a closed window is one short transaction on the service's
 * pool, like an event's; so is moving a tenant's verified point forward.
 */
@Injectable()
export class AuditReadRecorder implements OnModuleDestroy {
  private readonly windows = new Map<string, ReadWindow>();
  private readonly windowMs: number;
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) config: AuditorConfig,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
  ) {
    this.windowMs = Math.round(config.AUDITOR_READ_RECORD_WINDOW_SECONDS * 1000);
  }

  /** Counts one request; never waits for the database. */
  note(read: Omit<ReadNote, 'atMs'>): void {
    const note = { ...read, atMs: this.clock.now().getTime() };
    const result = noteRead(this.windows, note, { windowMs: this.windowMs, maxOpenWindows: MAX_OPEN_READ_WINDOWS });
    if (result === 'dropped') {
      auditorMetrics.readWindowsDropped.inc();
      return;
    }
    // After shutdown began nothing will close the window later: record it now.
    if (this.closed) void this.flush(Infinity);
    else if (result === 'opened') this.schedule();
  }

  /**
   * Records how far a clean verification got (a short write on the service's pool, like a read
   * record). Not waited on to disk (synchronous_commit off for this transaction alone): the caller's
   * answer need not wait for a WAL flush behind the appenders' commits, and a point lost in a crash
   * only makes the next verification start from the point before it, checking more, never less.
   */
  async saveVerifiedPoint(tenantId: string, point: { seq: number; hash: string; verifiedAt: string }, full: boolean): Promise<void> {
    await this.db.transaction(async (m) => {
      await m.query('SET LOCAL synchronous_commit = off');
      await repo.setScope(m, { kind: 'tenant', tenantId }, tenantId);
      await repo.saveVerifiedPoint(m, tenantId, point, full);
    });
  }

  /** Appends a read record that must not wait for its window (a verification that found the chain broken). */
  async recordNow(entry: AuditEntry): Promise<void> {
    const appended = await this.db.transaction((m) => repo.append(m, entry, activeTraceId(), this.sealer));
    if (appended) auditorMetrics.rowsAppended.inc({ event_type: entry.eventType });
  }

  /** Appends every open window now (shutdown, and tests that do not want to wait a window). */
  async flushAll(): Promise<void> {
    await this.flush(Infinity);
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushAll();
  }

  /** One timer, for the earliest window to close; re-armed after each flush. */
  private schedule(): void {
    if (this.timer || this.closed) return;
    const due = nextDueMs(this.windows, this.windowMs);
    if (due === null) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.flush(this.clock.now().getTime()).then(() => this.schedule());
      },
      Math.max(0, due - this.clock.now().getTime()),
    );
    this.timer.unref();
  }

  /** Appends the windows closed at `nowMs`, one after another (flushes never overlap). */
  private flush(nowMs: number): Promise<void> {
    const closed = takeClosedWindows(this.windows, nowMs, this.windowMs);
    this.flushing = this.flushing.then(async () => {
      for (const window of closed) await this.append(window);
    });
    return this.flushing;
  }

  private async append(window: ReadWindow): Promise<void> {
    const at = this.clock.now();
    const entry = auditEntryForReadWindow(window, newEventId(at.getTime()), this.windowMs);
    const stop = auditorMetrics.appendDuration.startTimer({ kind: 'read' });
    try {
      const appended = await this.db.transaction(async (m) => {
        await repo.setScope(m, { kind: 'tenant', tenantId: window.tenantId }, window.tenantId);
        // A tenant without a chain: nothing was there to read, and a read must not start one.
        if (!(await repo.hasChain(m, window.tenantId))) return false;
        return repo.append(m, entry, null, this.sealer);
      });
      stop();
      if (appended) auditorMetrics.rowsAppended.inc({ event_type: AUDIT_READ });
    } catch (error) {
      // Logged with what it would have said, so the count is not lost without a trace.
      log.error({ err: error, window: entry.payload, tenantId: window.tenantId, actor: window.actor }, 'could not record audit reads');
    }
  }
}
