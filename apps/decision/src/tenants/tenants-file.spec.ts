import { parseTenantsFile } from './tenants-file.js';
import { TenantsError, TenantsErrorCode } from './tenants.errors.js';

const valid = {
  tenants: [
    {
      tenantId: 'acme-health',
      displayName: 'Acme Health',
      frameworks: ['HIPAA', 'SOC2'],
      maxAutoActionsPerHour: 3,
      autoActions: ['restart'],
      services: [{ service: 'api', instances: ['api-1', 'api-2'] }],
    },
  ],
};

function errorOf(fn: () => unknown): TenantsError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TenantsError) return error;
    throw error;
  }
  throw new Error('expected a TenantsError');
}

describe('parseTenantsFile', () => {
  it('accepts a valid file and drops keys the policy does not read', () => {
    const tenants = parseTenantsFile(JSON.stringify({ ...valid, comment: 'x', tenants: [{ ...valid.tenants[0], port: 8080 }] }), 'fleet.json');
    expect(tenants).toEqual(valid.tenants);
  });

  it('lists every problem at once', () => {
    const bad = {
      tenants: [
        { ...valid.tenants[0], tenantId: 'has.dot', maxAutoActionsPerHour: -1 },
        { ...valid.tenants[0], autoActions: 'restart' },
        valid.tenants[0],
        valid.tenants[0],
      ],
    };
    const error = errorOf(() => parseTenantsFile(JSON.stringify(bad), 'fleet.json'));
    expect(error.code).toBe(TenantsErrorCode.InvalidProfiles);
    expect(error.issues).toEqual([
      expect.stringMatching(/^tenants\.0\.tenantId: /),
      expect.stringMatching(/^tenants\.0\.maxAutoActionsPerHour: /),
      expect.stringMatching(/^tenants\.1\.autoActions: /),
    ]);
    expect(error.message).toContain('tenants.1.autoActions');
  });

  it('refuses duplicate tenants', () => {
    const error = errorOf(() => parseTenantsFile(JSON.stringify({ tenants: [valid.tenants[0], valid.tenants[0]] }), 'fleet.json'));
    expect(error.issues).toEqual(['tenants.1.tenantId: duplicate tenantId acme-health (first at tenants.0)']);
  });

  it('refuses a file that is not JSON', () => {
    expect(errorOf(() => parseTenantsFile('{tenants:', 'fleet.json')).code).toBe(TenantsErrorCode.InvalidJson);
  });
});
