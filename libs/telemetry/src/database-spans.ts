import type { Span } from '@opentelemetry/api';
import { ATTR_DB_OPERATION_NAME } from '@opentelemetry/semantic-conventions';

/**
 * The SQL command of a query (`SELECT`, `INSERT`, `WITH`…), upper case; null when the text has none.
 * Comments are skipped: our migrations and repositories start some statements with one.
 */
export function sqlOperation(text: string): string | null {
  const stripped = text.replace(/^(?:\s+|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '');
  const m = /^([A-Za-z]+)/.exec(stripped);
  return m ? m[1].toUpperCase() : null;
}

/**
 * A database client span's name as the conventions give it, `{db.operation.name} {target}` with the
 * database as target (`SELECT autoheal`), instead of the pg instrumentation's `pg.query:SELECT
 * autoheal`; and `db.operation.name`, which it does not set.
 */
export function databaseSpanName(text: string, database: string | undefined): { name: string; operation: string | null } {
  const operation = sqlOperation(text);
  const name = [operation ?? 'query', database].filter(Boolean).join(' ');
  return { name, operation };
}

/** requestHook of the pg instrumentation. */
export function nameDatabaseSpan(span: Span, query: { text: string }, database: string | undefined): void {
  const { name, operation } = databaseSpanName(query.text, database);
  span.updateName(name);
  if (operation) span.setAttribute(ATTR_DB_OPERATION_NAME, operation);
}
