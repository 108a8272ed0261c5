import type { EntityManager } from 'typeorm';
import { isPermanentStoreError } from '@autoheal/messaging';
import { createLogger } from '@autoheal/telemetry';
import { detectorMetrics } from '../detector.metrics.js';
import type { OpenIncidentRow } from './incidents.repository.js';
import type { IncidentsService } from './incidents.service.js';
import type { IncidentCommand } from './lifecycle/lifecycle.types.js';

const log = createLogger('detector');
const RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

/** The health event behind an incident change: its partition and stream sequence. */
export interface EventCause {
  partition: number;
  seq: number;
}

export type RecordCause = (m: EntityManager, cause: EventCause) => Promise<void>;

/** What the writer needs of IncidentsService: the database side of each command. */
export type IncidentStore = Pick<IncidentsService, 'openAll' | 'updateAll' | 'resolveAll' | 'together'>;

/**
 * The commands in waves: wave k holds each fingerprint's k-th command. A wave has at most one
 * command per fingerprint, so its opens, updates and resolves can each go to the database as one
 * statement, and each fingerprint's commands still run in their order, wave after wave.
 */
export function inWaves(commands: readonly IncidentCommand[]): IncidentCommand[][] {
  const waves: IncidentCommand[][] = [];
  const seen = new Map<string, number>();
  for (const command of commands) {
    const wave = seen.get(command.fingerprint) ?? 0;
    seen.set(command.fingerprint, wave + 1);
    (waves[wave] ??= []).push(command);
  }
  return waves;
}

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
    /** Records, in the transaction of the changes, the health event that caused them (see execute). */
    private readonly recordCause: RecordCause,
  ) {}

  /**
   * Runs the commands of one health event or one timer firing (a burst of deadlines, held
   * resolutions); resolves once all committed. They commit in one transaction, a statement per
   * kind of change and wave (see inWaves): a transaction and statements per command queued a
   * burst for pool connections and round trips behind itself. With `cause`, the transaction
   * records the health event that caused them: a later owner of the partition reading that
   * event again must not repeat them.
   */
  async execute(commands: IncidentCommand[], cause?: EventCause): Promise<void> {
    // Service-level incidents (instance `*`) change after their members: their commands go in a
    // transaction of their own once the instances' committed, so an instance's incident is
    // published without waiting on the statements of the group it joins, and still before them.
    // They take their place in their fingerprints' line now, so a later event's change to the
    // same group still comes after them.
    const members = commands.filter((c) => c.target.instance !== '*');
    if (members.length === 0 || members.length === commands.length) return this.executeFree(commands, cause);
    const membersCommitted = this.executeFree(members, cause);
    await Promise.all([membersCommitted, this.executeFree(commands.filter((c) => c.target.instance === '*'), cause, membersCommitted)]);
  }

  /** Runs `commands` (after `after`, when given), a fingerprint still committing in a transaction of its own. */
  private async executeFree(commands: IncidentCommand[], cause: EventCause | undefined, after?: Promise<void>): Promise<void> {
    // A fingerprint with work still queued — typically the service-level incident, updated for
    // another of its instances a moment ago — would hold every command behind that commit. Its
    // commands go in a transaction of their own, so the rest commit at once; each fingerprint's
    // commands stay together and in order.
    const busy = new Set(commands.filter((c) => this.queues.has(c.fingerprint)).map((c) => c.fingerprint));
    if (busy.size === 0 || commands.every((c) => busy.has(c.fingerprint))) return this.commitTogether(commands, cause, after);
    const free = commands.filter((c) => !busy.has(c.fingerprint));
    await Promise.all([this.commitTogether(free, cause, after), this.commitTogether(commands.filter((c) => busy.has(c.fingerprint)), cause, after)]);
  }

  private async commitTogether(commands: IncidentCommand[], cause: EventCause | undefined, after: Promise<void> | undefined): Promise<void> {
    if (commands.length === 0) return;
    const fingerprints = [...new Set(commands.map((c) => c.fingerprint))];
    await this.serializeAll(fingerprints, async () => {
      // Whatever `after` was (it fails only at shutdown), these commands are due now.
      await after?.catch(() => undefined);
      return this.retrying(commands[0], async () => {
        // Nothing to change (and no cause to record): nothing opens, and none of the incidents is open here.
        if (!commands.some((c) => c.type === 'open' || this.rows.has(c.fingerprint))) return;
        const staged = new Map<string, OpenIncidentRow | undefined>();
        const records = await this.incidents.together(async (m) => {
          if (cause) await this.recordCause(m, cause);
          const out: (() => void)[] = [];
          for (const wave of inWaves(commands)) out.push(...(await this.runWave(wave, m, staged)));
          return out;
        });
        for (const record of records) record();
      });
    });
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
        // Content the database refuses (a NUL byte in the evidence, say) is refused on every try:
        // retried, it held its fingerprint's line and its health event forever. It fails now, and
        // the event that caused it is dead-lettered. The lifecycle, which applied the command in
        // memory, keeps the incident as open with no row: its later updates and resolve change
        // nothing here, and a takeover restores the lifecycle from the database.
        if (this.stopped || isPermanentStoreError(error)) throw error;
        log.error({ err: error, fingerprint: command.fingerprint, command: command.type, attempt }, 'incident command failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt)));
      }
    }
  }

  /**
   * Carries one wave of commands out in `m`'s transaction and returns what to record in memory
   * once it committed. `staged` holds the rows earlier waves of the same transaction opened,
   * changed or resolved.
   */
  private async runWave(wave: readonly IncidentCommand[], m: EntityManager, staged: Map<string, OpenIncidentRow | undefined>): Promise<(() => void)[]> {
    const rowOf = (fingerprint: string) => (staged.has(fingerprint) ? staged.get(fingerprint) : this.rows.get(fingerprint));
    const opens: Extract<IncidentCommand, { type: 'open' }>[] = [];
    const updates: { incident: OpenIncidentRow; command: Extract<IncidentCommand, { type: 'update' }> }[] = [];
    const resolves: { incident: OpenIncidentRow; reason: string }[] = [];
    for (const command of wave) {
      const incident = rowOf(command.fingerprint);
      if (command.type === 'open') opens.push(command);
      // An update or resolve of an incident not open here (never opened, or resolved) has nothing to change.
      else if (incident && command.type === 'update') updates.push({ incident, command });
      else if (incident && command.type === 'resolve') resolves.push({ incident, reason: command.reason });
    }
    const records: (() => void)[] = [];
    if (opens.length > 0) {
      for (const result of await this.incidents.openAll(opens, m)) {
        const { row } = result;
        staged.set(row.fingerprint, row);
        records.push(() => {
          this.rows.set(row.fingerprint, row);
          if (!result.opened) return;
          detectorMetrics.incidentsOpened.inc({ kind: row.kind, tenant: row.tenantId });
          detectorMetrics.detectionLatency.observe(result.detectionLatencyMs / 1000);
          log.info({ incidentId: row.incidentId, tenantId: row.tenantId, instance: row.instance, kind: row.kind }, 'incident opened');
        });
      }
    }
    if (updates.length > 0) {
      await this.incidents.updateAll(updates, m);
      for (const { incident, command } of updates) {
        const { flags } = command;
        const updated = { ...incident, severity: command.severity, flapping: flags.flapping, suspectedCause: flags.suspectedCause, members: flags.members };
        staged.set(incident.fingerprint, updated);
        records.push(() => this.rows.set(incident.fingerprint, updated));
      }
    }
    if (resolves.length > 0) {
      const resolved = await this.incidents.resolveAll(resolves, m);
      resolves.forEach(({ incident }, i) => {
        staged.set(incident.fingerprint, undefined);
        records.push(() => {
          if (resolved[i]) detectorMetrics.incidentsResolved.inc();
          this.rows.delete(incident.fingerprint);
        });
      });
    }
    return records;
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
