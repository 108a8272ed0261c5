import type { DataSource, EntityManager } from 'typeorm';
import { collectRowsForWriter, type OutboxRow } from './outbox.js';
import type { OutboxRelayLogger } from './outbox-relay.js';
import { assertSchemaName } from './schema-name.js';

export interface OutboxFastPathOptions {
  dataSource: DataSource;
  schema: string;
  /** Publishes one row with Nats-Msg-Id = its id; resolves once the broker has it. */
  publish: (row: OutboxRow) => Promise<void>;
  /** The relay of the same outbox. flush() resolves true once it published everything committed before the call. */
  relay: { flush(): Promise<boolean> };
  logger?: OutboxRelayLogger;
}

/** At most this many ids per marking statement. */
const MARK_BATCH = 500;

const consoleLogger: OutboxRelayLogger = {
  info: (obj, msg) => console.info(JSON.stringify({ level: 'info', msg, ...obj })),
  warn: (obj, msg) => console.warn(JSON.stringify({ level: 'warn', msg, ...obj })),
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};

/**
 * The writer publishes its own outbox rows as soon as its transaction commits, instead of
 * waiting for the relay's NOTIFY, second transaction and second commit. The outbox keeps its
 * guarantee because the rows are still committed with the state change; the fast path only
 * publishes them earlier, and the relay stays the fallback for whatever it did not publish:
 *
 * - A crash between commit and publish leaves the rows unpublished; a relay's poll or start
 *   publishes them.
 * - A failed publish suspends the fast path: that row and every later one go through the relay,
 *   in outbox order, and the fast path resumes only once the relay has published everything
 *   committed before it resumes. So one writer's events keep their order even across a broker
 *   outage (publishing later rows while an earlier one waited for the relay would reorder them).
 * - Published rows are marked in the background, batched, with synchronous_commit off: a mark
 *   lost in a crash only means the relay publishes the row again, and JetStream stores a
 *   repeated Nats-Msg-Id once within the duplicate window (consumers' inboxes cover the rest).
 *   The same goes for a relay poll that picks a row up between its publish and its mark.
 *
 * Publishes go out as soon as their transaction committed, in commit order; their acks are
 * booked in that order.
 */
export class OutboxFastPath {
  private readonly schema: string;
  private readonly logger: OutboxRelayLogger;
  /** The tail of the publishes, in commit order; never rejects. */
  private publishing: Promise<void> = Promise.resolve();
  /** A publish failed: the relay publishes everything until it has caught up. */
  private suspended = false;
  private recoveryAttempt = 0;
  private readonly recoveries = new Set<Promise<void>>();
  private readonly unmarked: string[] = [];
  /** Committed rows this fast path will publish and mark; the relay leaves them alone. */
  private readonly owned = new Set<string>();
  private marking: Promise<void> | null = null;

  constructor(private readonly options: OutboxFastPathOptions) {
    this.schema = assertSchemaName(options.schema);
    this.logger = options.logger ?? consoleLogger;
  }

  /**
   * Runs `work` in a transaction, like `dataSource.transaction`, and once it committed publishes
   * the rows `work` appended to this schema's outbox. Resolves after the commit, without waiting
   * for the publish; a rolled-back transaction publishes nothing.
   */
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    let rows: readonly OutboxRow[] = [];
    let held: string[] = [];
    let result: T;
    try {
      result = await this.options.dataSource.transaction(async (manager) => {
        rows = collectRowsForWriter(manager, this.schema);
        const out = await work(manager);
        // Held before the COMMIT is sent: the rows are visible to a relay poll from the moment it
        // lands, before this function gets to run again, and a poll in that gap published them a
        // second time (stored once, but sent twice).
        held = rows.map((row) => row.id);
        for (const id of held) this.owned.add(id);
        return out;
      });
    } catch (error) {
      for (const id of held) this.owned.delete(id);
      throw error;
    }
    if (rows.length > 0) this.publishCommitted(rows);
    return result;
  }

  /** Resolves once every row handed over so far was published (or left to the relay) and marked. */
  async settle(): Promise<void> {
    await this.publishing;
    while (this.marking) await this.marking;
    await Promise.all([...this.recoveries]);
  }

  /** Ids committed and not yet published and marked by this fast path (see OutboxRelayOptions.inFlightElsewhere). */
  inFlight(): readonly string[] {
    return [...this.owned];
  }

  private publishCommitted(rows: readonly OutboxRow[]): void {
    if (this.suspended) {
      this.abandon(rows);
      this.recover();
      return;
    }
    // Sent at once, in commit order (one connection keeps that order); only the acks are
    // awaited in order. Waiting for each ack before sending the next row made a burst of
    // commits queue behind one another's round trips: hundreds of ms at a hundred commits/s.
    const acks = rows.map((row) => this.options.publish(row));
    for (const ack of acks) ack.catch(() => undefined); // looked at in order below
    this.publishing = this.publishing.then(() => this.settleInOrder(rows, acks));
  }

  /**
   * Books the acks in commit order. After a failure every later row goes to the relay, which
   * publishes them in outbox order; a later row whose publish had already gone out is stored
   * by then and the relay's copy is dropped as a duplicate, so only around a failed publish can
   * the stream hold two rows of one writer in an order other than their commits'.
   */
  private async settleInOrder(rows: readonly OutboxRow[], acks: readonly Promise<void>[]): Promise<void> {
    for (const [index, row] of rows.entries()) {
      // An earlier row failed: this one waits behind it in the relay.
      if (this.suspended) {
        this.abandon(rows.slice(index));
        this.recover();
        break;
      }
      try {
        await acks[index];
        this.unmarked.push(row.id);
      } catch (error) {
        this.suspended = true;
        this.abandon(rows.slice(index));
        this.logger.warn(
          { err: error, schema: this.schema, eventId: row.id, subject: row.subject },
          'publish after commit failed; the outbox relay publishes this row and the ones after it',
        );
        this.recover();
        break;
      }
    }
    this.markSoon();
  }

  /**
   * Has the relay publish what is waiting. Each call asks for a drain that starts after the
   * caller's commit; the fast path resumes when the latest such drain published everything.
   */
  private recover(): void {
    const attempt = ++this.recoveryAttempt;
    const recovery = this.options.relay.flush().then(
      (drained) => {
        if (!drained || attempt !== this.recoveryAttempt || !this.suspended) return;
        this.suspended = false;
        this.logger.info({ schema: this.schema }, 'outbox relay caught up; publishing after commit again');
      },
      (error: unknown) => this.logger.error({ err: error, schema: this.schema }, 'outbox relay flush failed; its poll retries'),
    );
    this.recoveries.add(recovery);
    void recovery.finally(() => this.recoveries.delete(recovery));
  }

  /** Rows left to the relay: it may pick them up from now on. */
  private abandon(rows: readonly OutboxRow[]): void {
    for (const row of rows) this.owned.delete(row.id);
  }

  private markSoon(): void {
    if (this.marking || this.unmarked.length === 0) return;
    const ids = this.unmarked.splice(0, MARK_BATCH);
    this.marking = this.markPublished(ids).finally(() => {
      // Marked, or (the mark failed) left to the relay, which publishes them again, stored once.
      for (const id of ids) this.owned.delete(id);
      this.marking = null;
      this.markSoon();
    });
  }

  /**
   * One statement, its own transaction, committed without waiting for the WAL flush. Rows a
   * relay batch holds locked are skipped: that batch publishes and marks them itself.
   */
  private async markPublished(ids: string[]): Promise<void> {
    const s = this.schema;
    try {
      await this.options.dataSource.query(
        `UPDATE "${s}".outbox SET published_at = clock_timestamp()
           FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
          WHERE id IN (SELECT id FROM "${s}".outbox
                        WHERE id = ANY($1::uuid[]) AND published_at IS NULL
                        FOR UPDATE SKIP LOCKED)`,
        [ids],
      );
    } catch (error) {
      this.logger.warn({ err: error, schema: s, count: ids.length }, 'marking outbox rows published failed; the relay publishes them again, stored once');
    }
  }
}
