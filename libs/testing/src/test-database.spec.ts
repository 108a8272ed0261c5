import { assertTestDatabaseName, databaseUrl } from './test-database.js';

describe('test database guard', () => {
  it.each(['autoheal_test_abc', 'test', 'my_tests'])('accepts %s', (name) => {
    expect(assertTestDatabaseName(name)).toBe(name);
  });

  it.each(['postgres', 'autoheal', 'detector', 'prod_db'])('refuses %s, whose name does not say it is for tests', (name) => {
    expect(() => assertTestDatabaseName(name)).toThrow(/does not contain "test"/);
  });

  it('refuses names that would need quoting', () => {
    expect(() => assertTestDatabaseName('test"; DROP DATABASE postgres; --')).toThrow(/invalid database name/);
  });

  it('points a URL at another database, keeping credentials and options', () => {
    expect(databaseUrl('postgres://u:p@db:5433/postgres?sslmode=disable', 'autoheal_test_x')).toBe(
      'postgres://u:p@db:5433/autoheal_test_x?sslmode=disable',
    );
  });
});
