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

  it('splits a fleet over its agents: a host of its own, and the standby kept in another region', () => {
    const split = parseFleetFile({
      tenants: [
        { tenantId: 'acme', displayName: 'Acme', frameworks: ['HIPAA'], maxAutoActionsPerHour: 6, autoActions: ['restart'], services: [{ service: 'api', instances: ['api-1', 'api-2'] }] },
        {
          tenantId: 'hooli',
          displayName: 'Hooli',
          frameworks: [],
          maxAutoActionsPerHour: 20,
          autoActions: ['failover'],
          services: [{ service: 'status', instances: ['status-1'], agentId: 'host-west', standby: { agentId: 'standby-central', region: 'eu-central-1', instances: ['status-1'] } }],
        },
      ],
    });
    const of = (agentId: string) => agentConfigFile.parse(fleetAgentConfig(split, { ...OPTIONS, agentId, routesFile: '/state/routes.jsonl', trafficSwitchEntry: '/app/traffic-switch.cli.js' }));
    const demo = of('demo-fleet');
    const host = of('host-west');
    const standby = of('standby-central');
    // Ports numbered over the whole file: no two agents pick the same one.
    expect(demo.services.map((s) => [s.tenantId, s.instances])).toEqual([['acme', [{ name: 'api-1', port: 4100 }, { name: 'api-2', port: 4101 }]]]);
    expect(host.services.map((s) => [s.tenantId, s.instances, s.standby])).toEqual([['hooli', [{ name: 'status-1', port: 4102 }], undefined]]);
    expect(standby.services.map((s) => [s.tenantId, s.instances])).toEqual([['hooli', [{ name: 'status-1', port: 4103 }]]]);
    expect(standby).toMatchObject({ region: 'eu-central-1', chaos: false });
    expect(standby.services[0].standby).toEqual({ mode: 'cold', traffic: { kind: 'command', command: ['/usr/bin/node', '/app/traffic-switch.cli.js', '/state/routes.jsonl'], timeoutMs: 5_000 } });
    // Only the demo fleet's agent answers chaos (one queue group for every agent).
    expect([demo.chaos, host.chaos]).toEqual([true, false]);
    expect(host.region).toBeUndefined();
  });

  it('accepts the demo fleet file', () => {
    const demo = loadFleetFile(join(__dirname, '..', '..', '..', '..', 'deploy', 'demo', 'fleet.json'));
    const result = agentConfigFile.safeParse(fleetAgentConfig(demo, OPTIONS));
    expect(result.error?.issues ?? []).toEqual([]);
  });
});
