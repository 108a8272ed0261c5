import { join } from 'node:path';
import { agentConfigFile } from '@autoheal/contracts';
import { fleetAgentConfig, type FleetAgentOptions } from './agent-config.js';
import { loadFleetFile, parseFleetFile } from './fleet-file.js';

const OPTIONS: FleetAgentOptions = {
  agentId: 'demo-fleet',
  nats: { url: 'tls://127.0.0.1:4322', nkeySeedFile: '/keys/agent.nk', tlsCaFile: '/keys/ca.pem' },
  signing: { keyFile: '/keys/agent.pem', trustFile: '/keys/trust.json' },
  stateDir: '/state/agent',
  producerSeedDir: '/keys/seeds',
  basePort: 4100,
  heartbeatMs: 500,
  apiServerEntry: '/app/api-server.main.js',
  nodePath: '/usr/bin/node',
};

const fleet = parseFleetFile({
  tenants: [
    {
      tenantId: 'acme',
      displayName: 'Acme',
      frameworks: ['HIPAA'],
      maxAutoActionsPerHour: 6,
      autoActions: ['restart'],
      services: [
        { service: 'api', instances: ['api-1', 'api-2'], warmSpares: 1, releases: [{ version: 'v1' }, { version: 'v2-bad', env: { DEMO_FAULT: 'errors' }, staged: true }] },
        { service: 'jobs', instances: ['jobs-1'] },
      ],
    },
  ],
});

describe('fleetAgentConfig', () => {
  it('makes the fleet a valid host agent config: the api-server on consecutive ports, chaos on', () => {
    const config = agentConfigFile.parse(fleetAgentConfig(fleet, OPTIONS));
    expect(config).toMatchObject({ agentId: 'demo-fleet', nats: OPTIONS.nats, signing: { ...OPTIONS.signing, maxCommandSkewMs: 5_000 }, stateDir: '/state/agent', chaos: true });
    expect(config.services.map((s) => [s.service, s.instances])).toEqual([
      ['api', [{ name: 'api-1', port: 4100 }, { name: 'api-2', port: 4101 }]],
      ['jobs', [{ name: 'jobs-1', port: 4102 }]],
    ]);
    expect(config.services[0]).toMatchObject({
      command: ['/usr/bin/node', '/app/api-server.main.js'],
      env: { HEARTBEAT_MS: '500' },
      ready: { path: '/healthz', pidField: 'pid' },
      warmSpares: 1,
      releases: [{ version: 'v1' }, { version: 'v2-bad', env: { DEMO_FAULT: 'errors' }, fault: 'errors', staged: true }],
    });
    // No warmSpares declared: no front.
    expect(config.services[1].warmSpares).toBeUndefined();
  });

  it('leaves every port to the OS with base port 0', () => {
    const config = agentConfigFile.parse(fleetAgentConfig(fleet, { ...OPTIONS, basePort: 0 }));
    expect(config.services.flatMap((s) => s.instances.map((i) => i.port))).toEqual([0, 0, 0]);
  });

  it('accepts the demo fleet file', () => {
    const demo = loadFleetFile(join(__dirname, '..', '..', '..', '..', 'deploy', 'demo', 'fleet.json'));
    const result = agentConfigFile.safeParse(fleetAgentConfig(demo, OPTIONS));
    expect(result.error?.issues ?? []).toEqual([]);
  });
});
