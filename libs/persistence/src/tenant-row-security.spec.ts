import { tenantReadIsolationSql, tenantRowPolicySql, tenantScopeSettings } from './tenant-row-security.js';

describe('tenantScopeSettings', () => {
  it.each<[string, '*' | string[], string | null, { scope: string; tenantId: string; tenantIds: string }]>([
    ['an ops credential about a tenant', '*', 'acme', { scope: '*', tenantId: 'acme', tenantIds: '' }],
    ['an ops credential across tenants', '*', null, { scope: '*', tenantId: '', tenantIds: '' }],
    ['a list covering the tenant asked about', ['acme', 'globex'], 'globex', { scope: '', tenantId: 'globex', tenantIds: '' }],
    ['a list not covering it: nothing', ['acme'], 'globex', { scope: '', tenantId: '', tenantIds: '' }],
    ['a list across its tenants', ['acme', 'globex'], null, { scope: '', tenantId: '', tenantIds: 'acme,globex' }],
    ['a list with an entry that is no tenant id: left out', ['acme', 'a,b', '*', ''], null, { scope: '', tenantId: '', tenantIds: 'acme' }],
    ['an empty list: nothing', [], null, { scope: '', tenantId: '', tenantIds: '' }],
  ])('%s', (_name, scope, tenantId, expected) => {
    expect(tenantScopeSettings(scope, tenantId)).toEqual(expected);
  });
});

describe('tenantReadIsolationSql', () => {
  it('grants the reader SELECT on the listed tables only, and a policy per tenant table', () => {
    const { up, down } = tenantReadIsolationSql({ schema: 'decision', reader: 'autoheal_decision_reader', tenantTables: ['tenants'], sharedTables: ['breaker'], unrestricted: ['autoheal_decision'] });
    expect(up).toContain('GRANT SELECT ON decision.tenants, decision.breaker TO autoheal_decision_reader');
    expect(up).toContain(`CREATE POLICY tenants_tenant_read ON decision.tenants FOR SELECT TO autoheal_decision_reader USING (${tenantRowPolicySql()})`);
    expect(up).toContain('CREATE POLICY tenants_unrestricted ON decision.tenants TO autoheal_decision USING (true) WITH CHECK (true)');
    expect(up.filter((sql) => sql.includes('breaker') && sql.includes('POLICY'))).toEqual([]);
    expect(up.some((sql) => /INSERT|UPDATE|DELETE/.test(sql) && sql.includes('GRANT'))).toBe(false);
    expect(down).toContain('ALTER TABLE decision.tenants DISABLE ROW LEVEL SECURITY');
  });

  it('refuses names that are not plain identifiers', () => {
    expect(() => tenantReadIsolationSql({ schema: 'decision', reader: 'x; DROP TABLE y', tenantTables: ['tenants'] })).toThrow(/invalid/);
    expect(() => tenantRowPolicySql('tenant_id OR true')).toThrow(/invalid/);
  });
});
