import { loadRulesFile } from './rules-file.js';

describe('loadRulesFile', () => {
  const read = (text: string) => () => text;

  it('no path: defaults', () => {
    expect(loadRulesFile(undefined)).toBeUndefined();
  });

  it('reads a valid file with maintenance windows', () => {
    const file = loadRulesFile(
      'rules.json',
      read(JSON.stringify({ tenants: { acme: { maintenance: [{ service: 'api', from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z', reason: 'upgrade' }] } } })),
    );
    expect(file?.tenants?.acme.maintenance).toHaveLength(1);
  });

  it('lists every problem at once', () => {
    let message = '';
    try {
      loadRulesFile('rules.json', read(JSON.stringify({ defaults: { errorRate: { open: 'high' } }, tenants: { acme: { maintenance: [{ from: 'soon' }] } } })));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('invalid rules file rules.json');
    expect(message).toContain('errorRate.open');
    expect(message).toContain('maintenance');
  });

  it('rejects a file that is not JSON', () => {
    expect(() => loadRulesFile('rules.json', read('{ nope'))).toThrow(/invalid rules file rules.json/);
  });
});
