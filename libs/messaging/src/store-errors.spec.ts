import { QueryFailedError } from 'typeorm';
import { classifySqlState, isPermanentStoreError, sqlStateOf } from './store-errors';
import { dispositionOf, PermanentError, StoreFailure, TransientError } from './handler-errors';
import { outcomeOfFailure } from './event-consumer';

function pgError(code: string, message = 'refused'): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

describe('classifySqlState', () => {
  it.each([
    ['22P05', 'permanent'], // untranslatable character (\u0000 into jsonb)
    ['22021', 'permanent'], // character not in repertoire (NUL into text)
    ['22003', 'permanent'], // numeric value out of range
    ['22008', 'permanent'], // datetime field overflow
    ['54000', 'permanent'], // program limit exceeded
    ['54001', 'permanent'], // stack depth limit exceeded / statement too complex
    ['23502', 'permanent'], // not null
    ['23514', 'permanent'], // check
    ['23P01', 'permanent'], // exclusion
    ['23505', 'transient'], // unique: a concurrent delivery; the retry is idempotent
    ['23503', 'transient'], // foreign key: the referenced row may be another delivery's
    ['42501', 'transient'], // insufficient privilege: a grant is missing, not the event's fault
    ['42P01', 'transient'], // undefined table: a migration not run yet
    ['42601', 'transient'], // syntax: our code, not the event
    ['08006', 'transient'], // connection failure
    ['08001', 'transient'],
    ['57P01', 'transient'], // admin shutdown
    ['53300', 'transient'], // too many connections
    ['40001', 'transient'], // serialization
    ['40P01', 'transient'], // deadlock
    ['55P03', 'transient'], // lock not available
    ['57014', 'transient'], // statement timeout
    ['XX000', 'transient'],
  ])('%s is %s', (code, verdict) => {
    expect(classifySqlState(code)).toBe(verdict);
  });
});

describe('sqlStateOf', () => {
  it('finds the SQLSTATE on a pg error, a TypeORM error, down a cause chain, or in a payload', () => {
    expect(sqlStateOf(pgError('22P05'))).toBe('22P05');
    expect(sqlStateOf(new QueryFailedError('INSERT …', [], pgError('54001')))).toBe('54001');
    expect(sqlStateOf(new Error('wrapped', { cause: new Error('again', { cause: pgError('22021') }) }))).toBe('22021');
    expect(sqlStateOf({ disposition: 'transient', code: 'x', message: 'y', sqlState: '22003' })).toBe('22003');
  });

  it('finds none on Node errors or our own codes', () => {
    expect(sqlStateOf(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(sqlStateOf(Object.assign(new Error('x'), { code: 'unstorable_event' }))).toBeUndefined();
    expect(sqlStateOf(new Error('timeout'))).toBeUndefined();
    expect(sqlStateOf('22P05')).toBeUndefined();
    expect(isPermanentStoreError(new Error('Connection terminated unexpectedly'))).toBe(false);
  });
});

describe('a failed handler, judged by what it threw', () => {
  it.each([
    ['a StoreFailure of content the database refuses', new StoreFailure('store_unavailable', pgError('22P05', 'unsupported Unicode escape sequence')), 'dead_letter', 'store_rejected'],
    ['a StoreFailure of a program limit', new StoreFailure('store_unavailable', new QueryFailedError('q', [], pgError('54001', 'stack depth limit exceeded'))), 'dead_letter', 'store_rejected'],
    ['a StoreFailure of an outage', new StoreFailure('store_unavailable', pgError('57P01', 'terminating connection')), 'nak', undefined],
    ['a StoreFailure without a SQLSTATE', new StoreFailure('store_unavailable', new Error('Connection terminated')), 'nak', undefined],
    ['a raw data exception no handler mapped', pgError('22003', 'numeric field overflow'), 'dead_letter', 'store_rejected'],
    ['a raw serialization failure', pgError('40001'), 'nak', undefined],
    ['a permanent error with its own reason', new PermanentError('over', 'too many', 'instance_quota'), 'dead_letter', 'instance_quota'],
    ['a permanent error', new PermanentError('bad', 'never'), 'dead_letter', 'handler_rejected'],
    ['a transient error', new TransientError('down', 'later'), 'nak', undefined],
  ])('%s: first delivery → %s', (_name, error, kind, reason) => {
    const outcome = outcomeOfFailure(error, 1, 5);
    expect(outcome.kind).toBe(kind);
    if (outcome.kind === 'dead_letter') expect(outcome.reason).toBe(reason);
  });

  it('names the SQLSTATE in the dead letter, and keeps it through a payload (Nest RPC dispatch passes the payload on)', () => {
    const failure = new StoreFailure('audit_store_unavailable', pgError('22P05', 'unsupported Unicode escape sequence'));
    expect(dispositionOf(failure.getError())).toMatchObject({ disposition: 'permanent', sqlState: '22P05' });
    expect(outcomeOfFailure(failure.getError(), 1, 5)).toEqual({
      kind: 'dead_letter',
      reason: 'store_rejected',
      detail: 'audit_store_unavailable (SQLSTATE 22P05): unsupported Unicode escape sequence',
    });
  });
});
