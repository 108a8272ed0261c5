import { context as otelContext, propagation, type Context } from '@opentelemetry/api';
import type { EntityManager } from 'typeorm';
import { subjectFor, type Envelope } from '@autoheal/contracts';
import { assertSchemaName, outboxChannel } from './schema-name.js';
import { assertInTransaction } from './transaction-guard.js';

export interface AppendToOutboxOptions {
  /** Whose trace the events continue; defaults to the active context. */
  context?: Context;
}

/**
 * Stores events in `<schema>.outbox` in the caller's transaction, with the W3C trace context
 * (traceparent, tracestate) of the span that caused them, and wakes the relay. The NOTIFY is
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
  const rows = events.map((event) => {
    params.push(event.id, subjectFor(event), JSON.stringify(event), headersJson);
    const n = params.length;
    return `($${n - 3}, $${n - 2}, $${n - 1}::jsonb, $${n}::jsonb)`;
  });
  await manager.query(`INSERT INTO "${s}".outbox (id, subject, payload, headers) VALUES ${rows.join(', ')}`, params);
  await manager.query(`SELECT pg_notify($1, '')`, [outboxChannel(s)]);
}
