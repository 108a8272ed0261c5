import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import { MIGRATIONS_TABLE } from './database-roles.js';
import { assertSchemaName } from './schema-name.js';

export interface CreateDataSourceOptions {
  /** postgres://user:pass@host:port/database */
  url: string;
  /** The service's own Postgres schema; its tables, migrations table and outbox live there. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for migration and entity classes
  migrations: MixedList<Function | string>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- as above
  entities?: MixedList<Function | string | EntitySchema>;
  /** Shows up in pg_stat_activity, so a connection can be traced to its service. */
  applicationName: string;
  /** Pool size; a service rarely needs more than a handful of concurrent transactions. */
  poolMax?: number;
}

const DEFAULT_POOL_MAX = 10;

/**
 * The pool size: the caller's, else `DATABASE_POOL_MAX` from the environment (one setting for a
 * deployment whose Postgres allows few connections — or a test machine running several whole
 * systems against one server), else 10.
 */
export function poolMaxOf(options: Pick<CreateDataSourceOptions, 'poolMax'>, env: NodeJS.ProcessEnv = process.env): number {
  if (options.poolMax !== undefined) return options.poolMax;
  const fromEnv = env.DATABASE_POOL_MAX;
  if (fromEnv === undefined || fromEnv === '') return DEFAULT_POOL_MAX;
  const n = Number(fromEnv);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`DATABASE_POOL_MAX: must be an integer from 1 to 200, got ${JSON.stringify(fromEnv)}`);
  return n;
}

/**
 * A TypeORM DataSource bound to one service schema. Migrations never run implicitly and the
 * schema is never synchronised from entities: `runMigrations` is an explicit step.
 */
export function createDataSource(options: CreateDataSourceOptions): DataSource {
  const schema = assertSchemaName(options.schema);
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema,
    entities: options.entities ?? [],
    migrations: options.migrations,
    migrationsTableName: MIGRATIONS_TABLE,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      application_name: options.applicationName,
      max: poolMaxOf(options),
      // Idle connections stay open (pg closes them after 10 s by default): the first incident
      // after a quiet spell would otherwise pay for a new connection — TCP, startup, and
      // preparing its statements again — on the path its detection latency is measured on.
      idleTimeoutMillis: 0,
      // Unqualified names in raw SQL resolve to the service's schema first.
      options: `-c search_path=${schema},public`,
    },
  });
}

/**
 * A service's DataSource, connected, with every connection of its pool open. A pool opens its
 * connections only when it needs them, and then each costs a TCP handshake, a Postgres backend
 * and its startup on the path of whatever needed it: the first burst of incidents after a quiet
 * start waited up to 100 ms for connections the pool had never opened. Idle ones stay open.
 */
export async function openDataSource(options: CreateDataSourceOptions): Promise<DataSource> {
  const dataSource = await createDataSource(options).initialize();
  // All asked for at once, so the pool opens a connection for each.
  await Promise.all(Array.from({ length: poolMaxOf(options) }, () => dataSource.query('SELECT 1')));
  return dataSource;
}

export interface ReadPoolOptions extends Omit<CreateDataSourceOptions, 'url' | 'migrations'> {
  /** The API's SELECT-only reader role (DATABASE_READER_URL), when configured. */
  readerUrl: string | undefined;
  /** The service's own URL, logged in as when `readerUrl` is unset. */
  serviceUrl: string;
  /** Told once when the pool falls back to the service's role. */
  onFallback: () => void;
}

/**
 * An API's read pool, apart from the service's own: logged in as the reader role (SELECT only,
 * row-level security per tenant), so however many reads wait for a connection none of them holds
 * one the service's writers need. Without a reader URL it logs in as the service's role — still a
 * pool of its own, under row-level security, but no longer SELECT only — and says so. Connections
 * open when reads need them: a replica nobody reads from holds one, not `poolMax`.
 */
export function openReadPool(options: ReadPoolOptions): Promise<DataSource> {
  const { readerUrl, serviceUrl, onFallback, ...rest } = options;
  if (!readerUrl) onFallback();
  return createDataSource({ ...rest, url: readerUrl ?? serviceUrl, migrations: [] }).initialize();
}
