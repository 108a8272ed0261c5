/**
 * Whether a failed database write is worth retrying, judged by Postgres's SQLSTATE. An event
 * whose content the database refuses (a NUL byte in text or jsonb, a number out of range, an
 * expression too deep) is refused again on every delivery: retried as "store unavailable", it
 * held its consumer for minutes and then went to the dead letters anyway. So those are
 * permanent — dead-lettered with their reason on the first delivery — and only an outage, a
 * race or a deployment fault is retried (nak with delay, bounded by MaxDeliver).
 *
 * | SQLSTATE | class | verdict | why |
 * |---|---|---|---|
 * | `22xxx` | data exception (`22P05` untranslatable character, `22021` bad byte sequence, `22003` numeric out of range…) | permanent | the content itself |
 * | `54xxx` | program limit exceeded (`54000`, `54001` stack depth / statement too complex, `54011` too many columns…) | permanent | the content's size or shape |
 * | `23502`, `23514`, `23P01`, `23001` | not null, check, exclusion, restrict | permanent | the content breaks a rule of the schema |
 * | `23505` | unique violation | transient | a concurrent delivery of the same effect: the retry takes the idempotent path (inboxes use ON CONFLICT and never raise it) |
 * | `23503` | foreign key | transient | the referenced row may be another delivery's, not committed yet |
 * | `42xxx` | syntax or access (`42501` insufficient privilege, `42P01` undefined table) | transient | the code, the schema or a grant is wrong — a deployment fault, not the event's; fixing it lets the backlog through, MaxDeliver bounds the wait |
 * | `08xxx`, `57P0x`, `53xxx`, `40001`, `40P01`, `55P03`, `57014` | connection, shutdown, resources, serialization, deadlock, lock, timeout | transient | an outage or contention |
 * | anything else, or no SQLSTATE (`ECONNREFUSED`, a timeout) | | transient | unknown: retried, and MaxDeliver still bounds it |
 */
export type StoreErrorClass = 'permanent' | 'transient';

const PERMANENT_CLASSES = new Set(['22', '54']);
const PERMANENT_INTEGRITY = new Set(['23000', '23001', '23502', '23514', '23P01']);

export function classifySqlState(sqlState: string): StoreErrorClass {
  if (PERMANENT_CLASSES.has(sqlState.slice(0, 2))) return 'permanent';
  if (PERMANENT_INTEGRITY.has(sqlState)) return 'permanent';
  return 'transient';
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * The SQLSTATE a failure carries: on the error itself (node-postgres), on its `driverError`
 * (TypeORM's QueryFailedError) or anywhere down its `cause` chain. Undefined when there is none.
 */
export function sqlStateOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; driverError?: unknown; cause?: unknown; sqlState?: unknown };
    // A disposition payload that travelled through Nest's RPC dispatch carries it as data.
    if (typeof e.sqlState === 'string' && SQLSTATE.test(e.sqlState)) return e.sqlState;
    // Node's own codes (ECONNREFUSED, ETIMEDOUT) are longer than five characters.
    if (typeof e.code === 'string' && SQLSTATE.test(e.code)) return e.code;
    current = e.driverError ?? e.cause;
  }
  return undefined;
}

/** Whether a failure is the database refusing the content for good (no retry can help). */
export function isPermanentStoreError(error: unknown): boolean {
  const sqlState = sqlStateOf(error);
  return sqlState !== undefined && classifySqlState(sqlState) === 'permanent';
}
