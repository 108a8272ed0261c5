/**
 * Schema names end up inside SQL text (DDL, LISTEN, table names cannot be bound as parameters),
 * so they are restricted to what Postgres accepts unquoted: lowercase letters, digits and `_`.
 */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME_PATTERN.test(schema)) {
    throw new Error(`invalid schema name ${JSON.stringify(schema)}: expected ${SCHEMA_NAME_PATTERN.source}`);
  }
  return schema;
}

/**
 * The channel a schema's outbox NOTIFYs on. Identifiers longer than 63 bytes are truncated by
 * Postgres in LISTEN but rejected by pg_notify, so both sides use the same truncated name.
 */
export function outboxChannel(schema: string): string {
  return `${assertSchemaName(schema)}_outbox`.slice(0, 63);
}
