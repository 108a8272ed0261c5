import { assertSchemaName } from './schema-name.js';

export interface MigrationSql {
  up: string[];
  down: string[];
}

/**
 * DDL for a service's outbox and inbox, included in every service's first migration.
 *
 * outbox: one row per event, written in the transaction that caused it. `seq` orders rows as
 * they were inserted (event ids are time-ordered only to the millisecond, and several events of
 * one transaction share a millisecond); the partial index keeps the relay's scan small.
 * inbox: one row per (consumer, event) processed, written in the transaction of the effect.
 */
export function outboxInboxMigrationSql(schema: string): MigrationSql {
  const s = assertSchemaName(schema);
  return {
    up: [
      `CREATE TABLE "${s}".outbox (
        seq          bigint GENERATED ALWAYS AS IDENTITY,
        id           uuid PRIMARY KEY,
        subject      text NOT NULL,
        payload      jsonb NOT NULL,
        headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_at timestamptz NULL
      )`,
      `CREATE INDEX outbox_unpublished_idx ON "${s}".outbox (seq) WHERE published_at IS NULL`,
      `CREATE INDEX outbox_published_at_idx ON "${s}".outbox (published_at) WHERE published_at IS NOT NULL`,
      `CREATE TABLE "${s}".inbox (
        consumer     text NOT NULL,
        event_id     text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (consumer, event_id)
      )`,
    ],
    down: [`DROP TABLE "${s}".inbox`, `DROP TABLE "${s}".outbox`],
  };
}
