import { databaseSpanName, sqlOperation } from './database-spans';

describe('database span names (OpenTelemetry database conventions)', () => {
  it.each([
    ['SELECT 1', 'SELECT'],
    ['  insert into decision.outbox values ($1)', 'INSERT'],
    ['-- why\nWITH candidates AS (SELECT 1) SELECT * FROM candidates', 'WITH'],
    ['/* a comment */ UPDATE x SET y = 1', 'UPDATE'],
    ['', null],
  ])('%j → %s', (text, operation) => {
    expect(sqlOperation(text)).toBe(operation);
  });

  it('names the span `{operation} {database}`', () => {
    expect(databaseSpanName('SELECT 1', 'autoheal')).toEqual({ name: 'SELECT autoheal', operation: 'SELECT' });
    expect(databaseSpanName('   ', undefined)).toEqual({ name: 'query', operation: null });
  });
});
