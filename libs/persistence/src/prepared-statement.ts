import type { PoolClient } from 'pg';
import { QueryFailedError, type EntityManager } from 'typeorm';

/**
 * A statement a hot path runs over and over. Sent under its name, Postgres parses and plans it
 * once per connection and then only binds and executes it; `manager.query` sends every
 * statement unnamed, so each call is parsed and planned again. The name is per connection:
 * one name must always carry one text (pg refuses a second text under a name it prepared).
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export function preparedStatement(name: string, text: string): PreparedStatement {
  return { name, text };
}

/**
 * Runs `statement` on the manager's connection (its transaction, when it has one) and returns
 * its rows — for INSERT, UPDATE and DELETE too, unlike `manager.query`, which hands back
 * `[rows, count]` for some of them. A manager without a connection of its own (the data
 * source's) borrows one from the pool for the call, as `manager.query` does. Errors are thrown
 * as TypeORM's QueryFailedError, as `manager.query` throws them.
 */
export async function queryPrepared<Row>(manager: EntityManager, statement: PreparedStatement, params: readonly unknown[]): Promise<Row[]> {
  const own = manager.queryRunner;
  const runner = own && !own.isReleased ? own : manager.connection.createQueryRunner();
  try {
    const client = (await runner.connect()) as PoolClient;
    const result = await client.query({ name: statement.name, text: statement.text, values: [...params] });
    return result.rows as Row[];
  } catch (error) {
    throw error instanceof QueryFailedError ? error : new QueryFailedError(statement.text, [...params], error as Error);
  } finally {
    if (runner !== own) await runner.release();
  }
}
