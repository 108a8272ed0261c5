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

  const headers: Record<string, string> = {};
  propagation.inject(opts.context ?? otelContext.active(), headers);
  const headersJson = JSON.stringify(headers);

  const params: unknown[] = [];
  const stored: OutboxRow[] = [];
  const rows = events.map((event) => {
    const payloadJson = JSON.stringify(event);
    const subject = subjectFor(event);
    params.push(event.id, subject, payloadJson, headersJson);
    // The payload as stored, not the caller's object, which it could still change before commit.
    stored.push({ id: event.id, subject, payload: JSON.parse(payloadJson) as unknown, headers });
    const n = params.length;
    return `($${n - 3}, $${n - 2}, $${n - 1}::jsonb, $${n}::jsonb)`;
  });
  await manager.query(`INSERT INTO "${s}".outbox (id, subject, payload, headers) VALUES ${rows.join(', ')}`, params);

  const writer = writerPublishesRowsOf(manager, s);
  if (writer) writer.rows.push(...stored);
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
