import type { EntityManager } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { detectorMetrics } from '../detector.metrics.js';
import { partitionCheckpointsRepository } from '../partitioning/partition-checkpoints.repository.js';
import type { OpenIncidentRow } from './incidents.repository.js';
import type { AlsoInTransaction, IncidentsService } from './incidents.service.js';
import type { IncidentCommand } from './lifecycle/lifecycle.types.js';

const log = createLogger('detector');
const RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

/** The health event behind an incident change: its partition and stream sequence. */
export interface EventCause {
  partition: number;
  seq: number;
}

/** What the writer needs of IncidentsService: the database side of each command. */
export type IncidentStore = Pick<IncidentsService, 'open' | 'update' | 'resolve' | 'together'>;

/**
 * Carries the lifecycle's commands (open / update / resolve) out against the database and keeps
 * the rows of the incidents open here. Commands for one fingerprint run one at a time, in order;
 * `execute` resolves only once its commands committed, so the health event that caused them is
 * acknowledged only then. A failed write is retried, never dropped: the lifecycle has moved on in
 * memory and the database must follow.
 */
export class IncidentWriter {
  private readonly rows = new Map<string, OpenIncidentRow>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private stopped = false;

  constructor(
    private readonly incidents: IncidentStore,
    /** DETECTOR_PARTITIONS: the cause of each change is recorded in its partition's checkpoint. */
    private readonly partitions: number,
  ) {}

  /**
   * Runs commands, each fingerprint's in order; resolves once all committed. Each change records,
   * in its own transaction, the health event that caused it: a later owner of the partition
   * reading that event again must not repeat the change.
   */
  async execute(commands: IncidentCommand[], cause?: EventCause): Promise<void> {
    if (commands.length === 0) return;
    const also: AlsoInTransaction | undefined = cause
      ? (m) => partitionCheckpointsRepository.recordIncidentCause(m, this.partitions, cause.partition, cause.seq)
      : undefined;
    await Promise.all(
      commands.map((c) =>
        this.serializeAll([c.fingerprint], () =>
          this.retrying(c, async () => {
            const record = await this.run(c, also);
            record();
          }),
        ),
      ),
    );
  }

  /**
   * Commands of one timer firing (a burst of deadlines, held resolutions) in one transaction:
   * each in its own transaction, a burst queued for pool connections and commits behind itself.
   */
  async executeTogether(commands: IncidentCommand[]): Promise<void> {
    // A fingerprint with work still queued — typically the service-level incident, updated by
    // the previous firing for another of its instances — would hold the whole batch behind that
    // commit. Its commands go in a transaction of their own, so the rest commit at once; each
    // fingerprint's commands stay together and in order.
    const busy = new Set(commands.filter((c) => this.queues.has(c.fingerprint)).map((c) => c.fingerprint));
    if (busy.size === 0 || commands.every((c) => busy.has(c.fingerprint))) return this.runTogether(commands);
    await Promise.all([this.runTogether(commands.filter((c) => !busy.has(c.fingerprint))), this.runTogether(commands.filter((c) => busy.has(c.fingerprint)))]);
  }

  private async runTogether(commands: IncidentCommand[]): Promise<void> {
    if (commands.length <= 1) return this.execute(commands);
    const fingerprints = [...new Set(commands.map((c) => c.fingerprint))];
    await this.serializeAll(fingerprints, () =>
      this.retrying(commands[0], async () => {
        const staged = new Map<string, OpenIncidentRow | undefined>();
        const records = await this.incidents.together(async (m) => {
          const out: (() => void)[] = [];
          for (const command of commands) out.push(await this.run(command, undefined, m, staged));
          return out;
        });
        for (const record of records) record();
      }),
    );
  }

  /** Resolves once every command handed over so far has committed (or failed at shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
  }

  /** Stops retrying: a command failing from now on fails for good (the service is shutting down). */
  stop(): void {
    this.stopped = true;
  }

  /** Rows of incidents open in the database, for the services this detector takes on. */
  adopt(rows: readonly OpenIncidentRow[]): void {
    for (const row of rows) this.rows.set(row.fingerprint, row);
  }

  /** Forgets the rows of services handed over to another detector. */
  forget(belongs: (tenantId: string, service: string) => boolean): void {
    for (const [fingerprint, row] of this.rows) if (belongs(row.tenantId, row.service)) this.rows.delete(fingerprint);
  }

  private async retrying(command: IncidentCommand, work: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (this.stopped) throw error;
        log.error({ err: error, fingerprint: command.fingerprint, command: command.type, attempt }, 'incident command failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt)));
      }
    }
  }

  /**
   * Carries one command out (in `m`'s transaction when given) and returns what to record in
   * memory once it committed. `staged` holds the rows earlier commands of the same transaction
   * opened, changed or resolved.
   */
  private async run(
    command: IncidentCommand,
    also: AlsoInTransaction | undefined,
    m?: EntityManager,
    staged = new Map<string, OpenIncidentRow | undefined>(),
  ): Promise<() => void> {
    const { fingerprint } = command;
    const row = staged.has(fingerprint) ? staged.get(fingerprint) : this.rows.get(fingerprint);
    switch (command.type) {
      case 'open': {
        const result = await this.incidents.open(command, also, m);
        staged.set(fingerprint, result.row);
        return () => {
          this.rows.set(fingerprint, result.row);
          if (!result.opened) return;
          detectorMetrics.incidentsOpened.inc({ kind: result.row.kind });
          detectorMetrics.detectionLatency.observe(result.detectionLatencyMs / 1000);
          log.info({ incidentId: result.row.incidentId, tenantId: result.row.tenantId, instance: result.row.instance, kind: result.row.kind }, 'incident opened');
        };
      }
      case 'update': {
        if (!row) return () => undefined;
        await this.incidents.update(row, command, also, m);
        const updated = { ...row, severity: command.severity, flapping: command.flags.flapping, suspectedCause: command.flags.suspectedCause, members: command.flags.members };
        staged.set(fingerprint, updated);
        return () => this.rows.set(fingerprint, updated);
      }
      case 'resolve': {
        if (!row) return () => undefined;
        const resolved = await this.incidents.resolve(row, command.reason, also, m);
        staged.set(fingerprint, undefined);
        return () => {
          if (resolved) detectorMetrics.incidentsResolved.inc();
          this.rows.delete(fingerprint);
        };
      }
    }
  }

  /** Runs `work` once every key's earlier work is done; later work on any of the keys waits for it. */
  private serializeAll<T>(keys: string[], work: () => Promise<T>): Promise<T> {
    const previous = Promise.all(keys.map((key) => (this.queues.get(key) ?? Promise.resolve()).catch(() => undefined)));
    const next = previous.then(work);
    for (const key of keys) this.queues.set(key, next);
    void next
      .finally(() => {
        for (const key of keys) if (this.queues.get(key) === next) this.queues.delete(key);
      })
      .catch(() => undefined);
    return next;
  }
}
