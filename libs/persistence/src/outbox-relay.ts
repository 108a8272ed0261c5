import { Client, type ClientConfig } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import type { OutboxRow } from './outbox.js';
import { assertSchemaName, outboxChannel } from './schema-name.js';

export type { OutboxRow } from './outbox.js';

/** The subset of a pino logger the relay uses. */
export interface OutboxRelayLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OutboxRelayOptions {
  dataSource: DataSource;
  schema: string;
  /** Publishes one row; resolves once the broker has it. A rejection stops the batch. */
  publish: (row: OutboxRow) => Promise<void>;
  logger?: OutboxRelayLogger;
  /** Fallback poll, for notifications missed while the listener reconnects. */
  pollIntervalMs?: number;
  batchSize?: number;
  /** Published rows are deleted after this long; they are only kept for inspection. */
  retainPublishedMs?: number;
  /**
   * Ids this process is publishing another way right now (the writer's fast path, between
   * commit and mark): the relay leaves them alone, or a poll landing in that gap would publish
   * them a second time (stored once, but seen twice by plain subscribers).
   */
  inFlightElsewhere?: () => readonly string[];
}

interface BatchResult {
  published: number;
  failed: boolean;
  /** Another relay held the outbox's lock: this one looked at nothing. */
  skipped: boolean;
}

const PURGE_EVERY_MS = 60_000;
const MAX_LISTEN_BACKOFF_MS = 30_000;

const consoleLogger: OutboxRelayLogger = {
  info: (obj, msg) => console.info(JSON.stringify({ level: 'info', msg, ...obj })),
  warn: (obj, msg) => console.warn(JSON.stringify({ level: 'warn', msg, ...obj })),
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};

/**
 * Publishes `<schema>.outbox` in insertion order. A dedicated connection LISTENs for the
 * NOTIFY that `appendToOutbox` sends on commit, so events leave within milliseconds; a slow
 * poll covers notifications lost while that connection was down. Rows whose writer publishes
 * them itself after commit (OutboxFastPath) send no NOTIFY: for those the relay is the
 * fallback, woken by the poll, by the fast path when a publish failed, or by a restart.
 *
 * Each batch runs in one transaction: rows are locked (FOR UPDATE SKIP LOCKED), published one
 * by one, marked published, committed. A failed publish ends the batch; that row and the ones
 * after it stay unpublished and are retried on the next poll, so order is kept. Relays in
 * several processes take turns through a transaction-scoped advisory lock, so they neither
 * interleave (which would reorder events) nor publish a row twice; should a process die after
 * publishing but before committing, the rows go out again and JetStream drops the duplicates
 * by Nats-Msg-Id.
 */
export class OutboxRelay {
  private readonly schema: string;
  private readonly channel: string;
  private readonly logger: OutboxRelayLogger;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly retainPublishedMs: number;

  private running = false;
  private stopping = false;
  private inFlight: Promise<boolean> | null = null;
  private triggeredDuringBatch = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private listener: Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private listenFailures = 0;
  private readonly lostListeners = new WeakSet<Client>();
  private lastPurgeAt = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.schema = assertSchemaName(options.schema);
    this.channel = outboxChannel(this.schema);
    this.logger = options.logger ?? consoleLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 100;
    this.retainPublishedMs = options.retainPublishedMs ?? 24 * 60 * 60 * 1_000;
  }

  /** Starts listening and polling, and publishes what is already waiting. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    await this.listen();
    this.pollTimer = setInterval(() => this.trigger(), this.pollIntervalMs);
    this.pollTimer.unref();
    // Rows already waiting; the listener triggers this itself once it is connected.
    if (!this.inFlight) this.trigger();
  }

  /** Stops listening and polling; resolves once the batch in flight has committed or rolled back. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.pollTimer = null;
    this.reconnectTimer = null;
    const listener = this.listener;
    this.listener = null;
    if (listener) this.lostListeners.add(listener);
    await Promise.all([this.inFlight, listener?.end().catch(() => undefined)]);
  }

  /**
   * Publishes everything unpublished now and resolves when done (or when a publish failed):
   * true when this relay published every row committed before the call, false when a publish
   * failed, a batch threw or another relay held the outbox.
   */
  async flush(): Promise<boolean> {
    if (this.inFlight) {
      this.triggeredDuringBatch = true;
      return this.inFlight;
    }
    this.inFlight = this.drain().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private trigger(): void {
    if (!this.running) return;
    if (this.inFlight) {
      // The batch in flight may have selected before the new rows committed: go round again.
      this.triggeredDuringBatch = true;
      return;
    }
    this.inFlight = this.drain().finally(() => (this.inFlight = null));
  }

  /** True when it ended with nothing left that it saw committed; false on a failure or when it yielded to another relay. */
  private async drain(): Promise<boolean> {
    let skipped = false;
    do {
      this.triggeredDuringBatch = false;
      let result: BatchResult;
      try {
        result = await this.publishBatch();
      } catch (error) {
        this.logger.error({ err: error, schema: this.schema }, 'outbox batch failed');
        return false;
      }
      if (result.failed) return false; // retried on the next poll rather than in a tight loop
      skipped = result.skipped;
      if (result.published === this.batchSize) this.triggeredDuringBatch = true;
      await this.purgeIfDue();
    } while (this.triggeredDuringBatch && !this.stopping);
    return !skipped && !this.triggeredDuringBatch;
  }

  private async publishBatch(): Promise<BatchResult> {
    const runner = this.options.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      try {
        const result = await this.publishLocked(runner);
        await runner.commitTransaction();
        return result;
      } catch (error) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    } finally {
      await runner.release();
    }
  }

  private async publishLocked(runner: QueryRunner): Promise<BatchResult> {
    const [lock] = (await runner.query(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`, [
      `autoheal.outbox.${this.schema}`,
    ])) as { locked: boolean }[];
    // Another relay is publishing this outbox; it also hears the NOTIFY and goes round again.
    if (!lock.locked) return { published: 0, failed: false, skipped: true };

    const rows = (await runner.query(
      `SELECT id, subject, payload, headers FROM "${this.schema}".outbox
        WHERE published_at IS NULL AND NOT (id = ANY($2::uuid[]))
        ORDER BY seq
        LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [this.batchSize, [...(this.options.inFlightElsewhere?.() ?? [])]],
    )) as OutboxRow[];

    const published: string[] = [];
    let failed = false;
    for (const row of rows) {
      try {
        await this.options.publish({ id: row.id, subject: row.subject, payload: row.payload, headers: row.headers ?? {} });
        published.push(row.id);
      } catch (error) {
        failed = true;
        this.logger.error(
          { err: error, schema: this.schema, eventId: row.id, subject: row.subject },
          'outbox publish failed; the row stays unpublished and is retried',
        );
        break;
      }
    }
    if (published.length > 0) {
      await runner.query(`UPDATE "${this.schema}".outbox SET published_at = clock_timestamp() WHERE id = ANY($1::uuid[])`, [
        published,
      ]);
    }
    return { published: published.length, failed, skipped: false };
  }

  private async purgeIfDue(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPurgeAt < PURGE_EVERY_MS) return;
    this.lastPurgeAt = now;
    try {
      await this.options.dataSource.query(
      `DELETE FROM "${this.schema}".outbox WHERE id IN (
         SELECT id FROM "${this.schema}".outbox
          WHERE published_at < clock_timestamp() - $1 * interval '1 millisecond'
          LIMIT 1000)`,
      [this.retainPublishedMs],
      );
    } catch (error) {
      this.logger.warn({ err: error, schema: this.schema }, 'purging published outbox rows failed');
    }
  }

  private async listen(): Promise<void> {
    const client = new Client(this.listenerConfig());
    client.on('notification', () => this.trigger());
    client.on('error', (error) => this.onListenerLost(client, error));
    client.on('end', () => this.onListenerLost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      this.onListenerLost(client, error);
      return;
    }
    if (!this.running) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    if (this.listenFailures > 0) this.logger.info({ schema: this.schema }, 'outbox listener reconnected');
    this.listenFailures = 0;
    // Rows committed while nobody listened.
    this.trigger();
  }

  private onListenerLost(client: Client, error: unknown): void {
    // 'error' and 'end' both fire for one loss; a replaced client may still report late.
    if (this.lostListeners.has(client)) return;
    this.lostListeners.add(client);
    if (this.listener === client) this.listener = null;
    client.end().catch(() => undefined);
    if (!this.running || this.reconnectTimer) return;
    this.listenFailures++;
    const delay = Math.min(MAX_LISTEN_BACKOFF_MS, 500 * 2 ** Math.min(this.listenFailures - 1, 6));
    this.logger.warn(
      { err: error, schema: this.schema, retryInMs: delay },
      'outbox listener disconnected; polling until it reconnects',
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.running) void this.listen();
    }, delay);
    this.reconnectTimer.unref();
  }

  /** The DataSource's connection settings, for a connection of our own outside the pool. */
  private listenerConfig(): ClientConfig {
    const o = this.options.dataSource.options as {
      url?: string;
      host?: string;
      port?: number;
      username?: string;
      password?: string | (() => string | Promise<string>);
      database?: string;
      ssl?: ClientConfig['ssl'];
      extra?: { application_name?: string };
    };
    return {
      connectionString: o.url,
      host: o.host,
      port: o.port,
      user: o.username,
      password: o.password,
      database: o.database,
      ssl: o.ssl,
      application_name: `${o.extra?.application_name ?? 'autoheal'}-outbox-listener`,
      keepAlive: true,
    };
  }
}
