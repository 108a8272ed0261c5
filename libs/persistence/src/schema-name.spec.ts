import { assertSchemaName, outboxChannel } from './schema-name.js';
import { outboxInboxMigrationSql } from './outbox-inbox.migration.js';

describe('schema names', () => {
  it.each(['detector', 'audit_log', '_x', 'a1', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(assertSchemaName(name)).toBe(name);
  });

  it.each(['', 'Detector', '1abc', 'a-b', 'a.b', 'x"; DROP TABLE t; --', 'a b', 'a'.repeat(64), 'é'])('rejects %j', (name) => {
    expect(() => assertSchemaName(name)).toThrow(/invalid schema name/);
  });

  it('keeps the NOTIFY channel within the 63-byte identifier limit', () => {
    expect(outboxChannel('detector')).toBe('detector_outbox');
    expect(outboxChannel('a'.repeat(63))).toHaveLength(63);
  });

  it('validates the schema before writing DDL with it', () => {
    expect(() => outboxInboxMigrationSql('bad;name')).toThrow(/invalid schema name/);
    expect(outboxInboxMigrationSql('detector').up.join('\n')).toContain('CREATE TABLE "detector".outbox');
  });
});
