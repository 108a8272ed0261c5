import { context as otelContext, propagation, type Context } from '@opentelemetry/api';
import type { EntityManager, QueryRunner } from 'typeorm';
import { subjectFor, type Envelope } from '@autoheal/contracts';
import { assertSchemaName, outboxChannel } from './schema-name.js';
import { assertInTransaction } from './transaction-guard.js';

/** An outbox row as a publisher sees it: what the relay selects, and what the writer itself publishes after commit. */
export interface OutboxRow {
  /** The event id; publishers use it as Nats-Msg-Id so a re-publish is stored once. */
  id: string;
  subject: string;
  /** The envelope, as stored. */
  payload: unknown;
  /** W3C trace context (traceparent, tracestate) of the code that wrote the row. */
  headers: Record<string, string>;
}

export interface AppendToOutboxOptions {
  /** Whose trace the events continue; defaults to the active context. */
  context?: Context;
}

/** A transaction whose writer publishes its own outbox rows (of one schema) once it has committed. */
interface WriterPublishes {
  schema: string;
  rows: OutboxRow[];
}

// Keyed by the transaction's query runner, so the note dies with the transaction.
const writerPublishes = new WeakMap<QueryRunner, WriterPublishes>();

/**
 * Declares that the writer of `manager`'s transaction publishes the rows it appends to
 * `<schema>.outbox` itself, right after commit (see OutboxFastPath). Returns the list that
 * appendToOutbox fills; read it only once the transaction committed. Those appends send no
 * NOTIFY: a relay woken for them would only race the writer and publish them twice.
 */
export function collectRowsForWriter(manager: EntityManager, schema: string): readonly OutboxRow[] {
  assertInTransaction(manager, 'collectRowsForWriter');
  const note: WriterPublishes = { schema: assertSchemaName(schema), rows: [] };
  writerPublishes.set(manager.queryRunner as QueryRunner, note);
  return note.rows;
}

/**
 * Stores events in `<schema>.outbox` in the caller's transaction, with the W3C trace context
 * (traceparent, tracestate) of the span that caused them. Either the writer publishes them
 * itself after commit (collectRowsForWriter), or a NOTIFY wakes the relay; the NOTIFY is
 * transactional too: the relay hears of the rows when, and only if, they commit.
 */
export async function appendToOutbox(
  manager: EntityManager,
  schema: string,
  events: readonly Envelope[],
  opts: AppendToOutboxOptions = {},
): Promise<void> {
  const s = assertSchemaName(schema);
  assertInTransaction(manager, 'appendToOutbox');
  if (events.length === 0) return;
  const batch = outboxBatch(events, opts);
  // A VALUES list, as every service has always appended (insertOutboxBatchSql is for a statement of the caller's own).
  const [ids, subjects, payloads, headers] = batch.params;
  const params: unknown[] = [];
  const rows = ids.map((id, i) => {
    params.push(id, subjects[i], payloads[i], headers[i]);
    const n = params.length;
    return `($${n - 3}, $${n - 2}, $${n - 1}::jsonb, $${n}::jsonb)`;
  });
  await manager.query(`INSERT INTO "${s}".outbox (id, subject, payload, headers) VALUES ${rows.join(', ')}`, params);
  await outboxBatchStored(manager, s, batch);
}

/**
 * Events as outbox rows, for a caller that inserts them with a statement of its own (one that
 * also changes its state, saving a round trip): `params` are the parameters of
 * insertOutboxBatchSql, in its order; once the statement ran, outboxBatchStored does the rest
 * of what appendToOutbox does.
 */
export interface OutboxBatch {
  /** Event ids (uuid[]), subjects (text[]), payloads (jsonb[]) and each row's trace headers (jsonb[]). */
  params: [string[], string[], string[], string[]];
  /** The rows as stored, for the writer to publish. */
  rows: OutboxRow[];
}

/** An event and the trace it continues. */
export interface TracedEvent {
  event: Envelope;
  context: Context;
}

/** The batch of `events`, all carrying the trace context of `opts.context` (default: the active one). */
export function outboxBatch(events: readonly Envelope[], opts: AppendToOutboxOptions = {}): OutboxBatch {
  const context = opts.context ?? otelContext.active();
  return tracedOutboxBatch(events.map((event) => ({ event, context })));
}

/** The batch of events that continue different traces (changes to several incidents in one statement, say). */
export function tracedOutboxBatch(entries: readonly TracedEvent[]): OutboxBatch {
  const ids: string[] = [];
  const subjects: string[] = [];
  const payloads: string[] = [];
  const headersJson: string[] = [];
  // Events of one trace share one headers object, as they share one context.
  const headersOf = new Map<Context, Record<string, string>>();
  const rows = entries.map(({ event, context }): OutboxRow => {
    let headers = headersOf.get(context);
    if (!headers) {
      headers = {};
      propagation.inject(context, headers);
      headersOf.set(context, headers);
    }
    const payloadJson = JSON.stringify(event);
    const subject = subjectFor(event);
    ids.push(event.id);
    subjects.push(subject);
    payloads.push(payloadJson);
    headersJson.push(JSON.stringify(headers));
    // The payload as stored, not the caller's object, which it could still change before commit.
    return { id: event.id, subject, payload: JSON.parse(payloadJson) as unknown, headers };
  });
  return { params: [ids, subjects, payloads, headersJson], rows };
}

/**
 * `INSERT INTO "<schema>".outbox …` of an OutboxBatch whose params are `$first` … `$first+3`,
 * in the batch's order. A caller may put it in a WITH clause of its own statement; it ends
 * with its FROM clause, so a caller may append a WHERE (to insert the rows only if …) or a JOIN
 * and `ORDER BY e.n` (`e.n` is a row's 1-based position in the batch).
 */
export function insertOutboxBatchSql(schema: string, first: number): string {
  const s = assertSchemaName(schema);
  return `INSERT INTO "${s}".outbox (id, subject, payload, headers)
    SELECT e.id, e.subject, e.payload, e.headers
      FROM unnest($${first}::uuid[], $${first + 1}::text[], $${first + 2}::jsonb[], $${first + 3}::jsonb[]) WITH ORDINALITY AS e(id, subject, payload, headers, n)`;
}

/**
 * After the caller's statement stored `batch` in `<schema>.outbox` (in its transaction): hands
 * the rows to the writer that publishes them after commit, or else wakes the relay.
 */
export async function outboxBatchStored(manager: EntityManager, schema: string, batch: OutboxBatch): Promise<void> {
  await outboxRowsStored(manager, schema, batch.rows);
}

/** outboxBatchStored for the rows of a batch the caller's statement stored only in part (those of the changes that happened). */
export async function outboxRowsStored(manager: EntityManager, schema: string, rows: readonly OutboxRow[]): Promise<void> {
  const s = assertSchemaName(schema);
  assertInTransaction(manager, 'outboxBatchStored');
  if (rows.length === 0) return;
  const writer = writerPublishesRowsOf(manager, s);
  if (writer) writer.rows.push(...rows);
  else await manager.query(`SELECT pg_notify($1, '')`, [outboxChannel(s)]);
}

/**
 * The writer's note, when it publishes this schema's rows and the append is at the top level
 * of its transaction. Inside a savepoint (a nested `manager.transaction`) the writer cannot
 * know whether the rows survive, so those go to the relay. TypeORM keeps the nesting depth
 * in a protected field; should it ever be missing, every append counts as nested (relay).
 */
function writerPublishesRowsOf(manager: EntityManager, schema: string): WriterPublishes | undefined {
  const runner = manager.queryRunner;
  if (!runner) return undefined;
  const note = writerPublishes.get(runner);
  if (!note || note.schema !== schema) return undefined;
  const depth = (runner as unknown as { transactionDepth?: unknown }).transactionDepth;
  return depth === 1 ? note : undefined;
}

/** What is waiting in an outbox: events committed but not yet published. */
export interface OutboxBacklog {
  pending: number;
  /** Age of the oldest unpublished row by the database's clock; 0 when none waits. */
  oldestPendingSeconds: number;
}

/**
 * Counts `<schema>.outbox`'s unpublished rows (on the partial index the relay scans) and how long
 * the oldest has waited. The age is taken by the database's clock, the one that stamped the rows.
 */
export async function readOutboxBacklog(queryable: Pick<EntityManager, 'query'>, schema: string): Promise<OutboxBacklog> {
  const s = assertSchemaName(schema);
  const [row]: { pending: number; oldest: number | null }[] = await queryable.query(
    `SELECT count(*)::int AS pending, extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS oldest
     FROM "${s}".outbox WHERE published_at IS NULL`,
  );
  return { pending: row.pending, oldestPendingSeconds: Math.max(0, row.oldest ?? 0) };
}
