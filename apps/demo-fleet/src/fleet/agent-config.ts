import { join } from 'node:path';
import { DEGRADATIONS, type AgentConfigFileInput, type AgentRelease, type AgentServiceInput, type Degradation } from '@autoheal/contracts';
import type { FleetFile } from './fleet-file.js';

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
}

/** The compiled demo api-server, next to this file's directory in dist. */
export const API_SERVER_ENTRY = join(__dirname, '..', 'api-server', 'api-server.main.js');

/**
 * The demo fleet as a configuration of the host agent (apps/agent): every service of the fleet
 * file runs the demo api-server under node, on consecutive ports, answering `GET /healthz` with
 * its pid, and with chaos enabled (the demo breaks instances on purpose). A release whose env sets
 * DEMO_FAULT is declared to the agent as carrying that fault.
 */
export function fleetAgentConfig(fleet: FleetFile, options: FleetAgentOptions): AgentConfigFileInput {
  let position = 0;
  const services: AgentServiceInput[] = fleet.tenants.flatMap((tenant) =>
    tenant.services.map((service) => ({
      tenantId: tenant.tenantId,
      service: service.service,
      instances: service.instances.map((name) => ({ name, port: options.basePort === 0 ? 0 : options.basePort + position++ })),
      command: [options.nodePath ?? process.execPath, options.apiServerEntry ?? API_SERVER_ENTRY],
      env: { HEARTBEAT_MS: String(options.heartbeatMs) },
      ready: { path: '/healthz', pidField: 'pid' },
      ...(service.releases ? { releases: service.releases.map(agentRelease) } : {}),
      ...(service.warmSpares !== undefined ? { warmSpares: service.warmSpares } : {}),
    })),
  );
  return {
    agentId: options.agentId,
    nats: options.nats,
    signing: options.signing,
    stateDir: options.stateDir,
    ...(options.producerSeedDir ? { producerSeedDir: options.producerSeedDir } : {}),
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
    chaos: true,
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
