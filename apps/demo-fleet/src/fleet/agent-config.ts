import { join } from 'node:path';
import { DEGRADATIONS, type AgentConfigFileInput, type AgentRelease, type AgentServiceInput, type Degradation } from '@autoheal/contracts';
import { DEMO_AGENT_ID, type FleetFile } from './fleet-file.js';

/** What the demo's agent config needs besides the fleet file: who the agent is and where things are. */
export interface FleetAgentOptions {
  agentId: string;
  nats: { url: string; nkeySeedFile?: string; tlsCaFile?: string };
  signing: { keyFile: string; trustFile: string };
  stateDir: string;
  producerSeedDir?: string;
  /** Instance i of the file listens on basePort + i; 0: the OS picks each port. */
  basePort: number;
  /** The heartbeat interval the api-servers announce (their HEARTBEAT_MS). */
  heartbeatMs: number;
  readyTimeoutMs?: number;
  /** The compiled api-server; by default the one next to this file in dist. */
  apiServerEntry?: string;
  /** The node binary the api-servers run under; by default the one running this. */
  nodePath?: string;
  /**
   * Where the demo's traffic switch records the routes failovers set (a JSON line each): the
   * command a standby's failover runs to move traffic. Required when the agent keeps a standby.
   */
  routesFile?: string;
  /** The compiled traffic switch; by default the one next to this file's directory in dist. */
  trafficSwitchEntry?: string;
}

/** The compiled demo api-server, next to this file's directory in dist. */
export const API_SERVER_ENTRY = join(__dirname, '..', 'api-server', 'api-server.main.js');

/** The compiled demo traffic switch (src/traffic-switch.cli.ts). */
export const TRAFFIC_SWITCH_ENTRY = join(__dirname, '..', 'traffic-switch.cli.js');

/**
 * The demo fleet as the configuration of one host agent (apps/agent), `options.agentId`: the
 * services the file gives that agent (`agentId`, the demo fleet's own by default) and the
 * standbys it keeps (`standby.agentId`, in `standby.region`). Every service runs the demo
 * api-server under node, answering `GET /healthz` with its pid. Ports are numbered over the whole
 * file (every primary instance in file order, then every standby instance), so the fleet's agents
 * never pick one port twice. Only the demo fleet's own agent answers chaos: `agent.chaos` is one
 * queue group, and an agent that does not run the instance would answer it `unknown_instance`.
 * A release whose env sets DEMO_FAULT is declared to the agent as carrying that fault. A standby
 * is cold (started on a failover) and moves traffic with the demo's traffic switch, which records
 * the route in `routesFile` (the demo has no load balancer to repoint).
 */
export function fleetAgentConfig(fleet: FleetFile, options: FleetAgentOptions): AgentConfigFileInput {
  let position = 0;
  const port = () => (options.basePort === 0 ? 0 : options.basePort + position++);
  const node = options.nodePath ?? process.execPath;
  const base = (tenantId: string, service: FleetFile['tenants'][number]['services'][number]) => ({
    tenantId,
    service: service.service,
    command: [node, options.apiServerEntry ?? API_SERVER_ENTRY],
    env: { HEARTBEAT_MS: String(options.heartbeatMs) },
    ready: { path: '/healthz', pidField: 'pid' },
    ...(service.releases ? { releases: service.releases.map(agentRelease) } : {}),
  });
  const services: AgentServiceInput[] = [];
  for (const tenant of fleet.tenants) {
    for (const service of tenant.services) {
      const instances = service.instances.map((name) => ({ name, port: port() }));
      if ((service.agentId ?? DEMO_AGENT_ID) !== options.agentId) continue;
      services.push({ ...base(tenant.tenantId, service), instances, ...(service.warmSpares !== undefined ? { warmSpares: service.warmSpares } : {}) });
    }
  }
  let region: string | undefined;
  for (const tenant of fleet.tenants) {
    for (const service of tenant.services) {
      const standby = service.standby;
      if (!standby) continue;
      const instances = standby.instances.map((name) => ({ name, port: port() }));
      if (standby.agentId !== options.agentId) continue;
      if (region !== undefined && region !== standby.region) throw new Error(`agent ${options.agentId} keeps standbys in ${region} and ${standby.region}: an agent is in one region`);
      region = standby.region;
      if (!options.routesFile) throw new Error(`agent ${options.agentId} keeps a standby: routesFile (where the demo's traffic switch records routes) is required`);
      services.push({
        ...base(tenant.tenantId, service),
        instances,
        standby: { mode: 'cold', traffic: { kind: 'command', command: [node, options.trafficSwitchEntry ?? TRAFFIC_SWITCH_ENTRY, options.routesFile] } },
      });
    }
  }
  return {
    agentId: options.agentId,
    ...(region !== undefined ? { region } : {}),
    nats: options.nats,
    signing: options.signing,
    stateDir: options.stateDir,
    ...(options.producerSeedDir ? { producerSeedDir: options.producerSeedDir } : {}),
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
    chaos: options.agentId === DEMO_AGENT_ID,
    services,
  };
}

function agentRelease(release: NonNullable<FleetFile['tenants'][number]['services'][number]['releases']>[number]): AgentRelease {
  const fault = release.env?.DEMO_FAULT;
  return { ...release, ...(isDegradation(fault) ? { fault } : {}) };
}

function isDegradation(value: string | undefined): value is Degradation {
  return (DEGRADATIONS as readonly string[]).includes(value ?? '');
}
