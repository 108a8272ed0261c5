import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetFileError, fleetAgentIds, fleetInstances, fleetReleases, fleetWarmSpares, parseFleetFile, startingRelease } from './fleet-file.js';

const DEMO_FLEET = join(__dirname, '..', '..', '..', '..', 'deploy', 'demo', 'fleet.json');

function tenant(overrides: Record<string, unknown> = {}) {
  return {
    tenantId: 'acme-health',
    displayName: 'Acme Health',
    frameworks: ['HIPAA'],
    maxAutoActionsPerHour: 6,
    autoActions: ['restart'],
    services: [{ service: 'patient-api', instances: ['patient-api-1', 'patient-api-2'] }],
    ...overrides,
  };
}

function problemsOf(raw: unknown): string[] {
  try {
    parseFleetFile(raw);
  } catch (error) {
    if (error instanceof FleetFileError) return error.problems;
    throw error;
  }
  throw new Error('expected the fleet file to be rejected');
}

describe('parseFleetFile', () => {
  it('accepts the demo fleet shipped in deploy/demo: four tenants, different frameworks (one under none), seven instances on three agents', () => {
    const fleet = parseFleetFile(JSON.parse(readFileSync(DEMO_FLEET, 'utf8')), DEMO_FLEET);
    expect(fleet.tenants.map((t) => t.tenantId)).toEqual(['acme-health', 'globex-pay', 'initech-eu', 'hooli-eu']);
    expect(new Set(fleet.tenants.map((t) => t.frameworks.join('+'))).size).toBe(4);
    expect(fleetInstances(fleet)).toHaveLength(7);
    // The lost host's service runs on a host of its own, its standby on a third agent.
    expect(fleetAgentIds(fleet)).toEqual(['demo-fleet', 'demo-host-eu-west', 'demo-standby-eu-central']);
  });

  it('refuses a standby kept by the agent running the service, or named unlike the instances it stands in for', () => {
    const problems = problemsOf({
      tenants: [
        tenant({ services: [{ service: 'api', instances: ['api-1'], agentId: 'host-a', standby: { agentId: 'host-a', region: 'eu-central-1', instances: ['api-9'] } }] }),
      ],
    });
    expect(problems).toEqual([
      expect.stringMatching(/^tenants\.0\.services\.0\.standby\.agentId: the standby must be kept by another agent/) as string,
      expect.stringMatching(/^tenants\.0\.services\.0\.standby\.instances\.0: api-9 is not an instance of the service/) as string,
    ]);
  });

  it('lists instances in file order with their tenant and service', () => {
    const fleet = parseFleetFile({
      tenants: [
        tenant(),
        tenant({
          tenantId: 'initech-eu',
          frameworks: ['GDPR'],
          services: [
            { service: 'ledger-api', instances: ['ledger-api-1'] },
            { service: 'reports-api', instances: ['reports-api-1'] },
          ],
        }),
      ],
    });
    expect(fleetInstances(fleet)).toEqual([
      { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-1' },
      { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-2' },
      { tenantId: 'initech-eu', service: 'ledger-api', instance: 'ledger-api-1' },
      { tenantId: 'initech-eu', service: 'reports-api', instance: 'reports-api-1' },
    ]);
  });

  it('keeps profile fields it does not know, for the other readers of the file', () => {
    const fleet = parseFleetFile({ tenants: [tenant({ allowedRegions: ['eu-west-1'] })] });
    expect(fleet.tenants[0]).toMatchObject({ allowedRegions: ['eu-west-1'] });
  });

  it.each([
    ['no tenants', { tenants: [] }, 'tenants'],
    ['a tenant id with a dot', { tenants: [tenant({ tenantId: 'acme.health' })] }, 'tenants.0.tenantId'],
    ['a wildcard instance', { tenants: [tenant({ services: [{ service: 'api', instances: ['*'] }] })] }, 'tenants.0.services.0.instances.0'],
    ['an unknown framework', { tenants: [tenant({ frameworks: ['ISO9001'] })] }, 'tenants.0.frameworks.0'],
    ['a service without instances', { tenants: [tenant({ services: [{ service: 'api', instances: [] }] })] }, 'tenants.0.services.0.instances'],
    ['a negative action budget', { tenants: [tenant({ maxAutoActionsPerHour: -1 })] }, 'tenants.0.maxAutoActionsPerHour'],
    ['a duplicate tenant', { tenants: [tenant(), tenant()] }, 'tenants.1.tenantId'],
  ])('rejects %s', (_name, raw, path) => {
    expect(problemsOf(raw).some((p) => p.startsWith(`${path}:`))).toBe(true);
  });

  it('reads each service\'s release history, oldest first; a service without one runs the release "initial"', () => {
    const fleet = parseFleetFile({
      tenants: [
        tenant({
          services: [
            { service: 'patient-api', instances: ['patient-api-1'], releases: [{ version: 'v1' }, { version: 'v2', env: { FEATURE_X: 'on' }, command: ['node', 'v2.js'] }] },
            { service: 'reports-api', instances: ['reports-api-1'] },
          ],
        }),
      ],
    });
    expect(fleetReleases(fleet)).toEqual(
      new Map([
        ['acme-health/patient-api', [{ version: 'v1' }, { version: 'v2', env: { FEATURE_X: 'on' }, command: ['node', 'v2.js'] }]],
        ['acme-health/reports-api', [{ version: 'initial' }]],
      ]),
    );
  });

  it('starts instances on the last release that is not staged; a staged one is only rolled out by hand', () => {
    expect(startingRelease([{ version: 'v1' }, { version: 'v2' }])).toEqual({ version: 'v2' });
    expect(startingRelease([{ version: 'v1' }, { version: 'v2' }, { version: 'v3', env: { DEMO_FAULT: 'errors' }, staged: true }])).toEqual({ version: 'v2' });
    expect(startingRelease([{ version: 'v1' }, { version: 'v2', staged: true }, { version: 'v3' }])).toEqual({ version: 'v3' });
  });

  it('ships a staged bad release in the demo fleet, after the release its instances start on', () => {
    const fleet = parseFleetFile(JSON.parse(readFileSync(DEMO_FLEET, 'utf8')));
    const staged = [...fleetReleases(fleet)].flatMap(([service, history]) => history.filter((r) => r.staged).map((r) => ({ service, r, history })));
    expect(staged.length).toBeGreaterThanOrEqual(1);
    for (const { r, history } of staged) {
      expect(r.env).toMatchObject({ DEMO_FAULT: 'errors' });
      // rollback to previous from the bad release lands on the release the instances started on.
      expect(history[history.indexOf(r) - 1]).toBe(startingRelease(history));
    }
  });

  it.each([
    ['only staged releases', [{ version: 'v1', staged: true }], 'tenants.0.services.0.releases'],
    ['an empty release list', [], 'tenants.0.services.0.releases'],
    ['a release called previous', [{ version: 'previous' }], 'tenants.0.services.0.releases.0.version'],
    ['a duplicate release', [{ version: 'v1' }, { version: 'v1' }], 'tenants.0.services.0.releases.1.version'],
    ['a lower-case environment variable', [{ version: 'v1', env: { path: '/x' } }], 'tenants.0.services.0.releases.0.env.path'],
    ['an empty command', [{ version: 'v1', command: [] }], 'tenants.0.services.0.releases.0.command'],
  ])('rejects %s', (_name, releases, path) => {
    const problems = problemsOf({ tenants: [tenant({ services: [{ service: 'api', instances: ['api-1'], releases }] })] });
    expect(problems.some((p) => p.startsWith(`${path}:`))).toBe(true);
  });

  it('rejects an instance listed twice under one tenant and service', () => {
    const raw = { tenants: [tenant({ services: [{ service: 'api', instances: ['api-1', 'api-1'] }] })] };
    expect(problemsOf(raw)).toEqual(['tenants.0.services.0.instances.1: duplicate instance acme-health/api/api-1']);
  });

  it('reports every problem at once', () => {
    const raw = { tenants: [tenant({ tenantId: 'a b', frameworks: [] }), { tenantId: 'x' }] };
    const problems = problemsOf(raw);
    expect(problems.length).toBeGreaterThanOrEqual(4);
    expect(problems.join('\n')).toMatch(/tenants\.0\.tenantId/);
    expect(problems.join('\n')).toMatch(/tenants\.1\.services/);
  });

  it('reads warmSpares per service (0 included: a front, no spare); a service without it is absent', () => {
    const fleet = parseFleetFile({
      tenants: [
        tenant({
          services: [
            { service: 'a', instances: ['a-1'], warmSpares: 2 },
            { service: 'b', instances: ['b-1'], warmSpares: 0 },
            { service: 'c', instances: ['c-1'] },
          ],
        }),
      ],
    });
    expect([...fleetWarmSpares(fleet)]).toEqual([
      ['acme-health/a', 2],
      ['acme-health/b', 0],
    ]);
  });

  it('refuses a warmSpares that is negative, fractional or above 8, naming the field', () => {
    for (const warmSpares of [-1, 1.5, 9, '1']) {
      expect(problemsOf({ tenants: [tenant({ services: [{ service: 'a', instances: ['a-1'], warmSpares }] })] })).toEqual([
        expect.stringMatching(/^tenants\.0\.services\.0\.warmSpares: /) as string,
      ]);
    }
  });
});
