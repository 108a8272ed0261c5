import { join } from 'node:path';
import { agentService, type AgentService, type AgentServiceInput } from '@autoheal/contracts';

/**
 * The agent's tests supervise real processes: the demo's compiled api-server (build it first:
 * `npx tsc -b apps/demo-fleet`), which answers GET /healthz with its pid and takes the agent's
 * IPC messages, as the demo runs it.
 */
export const API_SERVER_ENTRY = join(__dirname, '..', '..', '..', 'demo-fleet', 'dist', 'api-server', 'api-server.main.js');

/** One service of api-server processes on OS-picked ports, as the agent's config would declare it. */
export function apiServerService(
  tenantId: string,
  service: string,
  instances: readonly string[],
  extra: Partial<AgentServiceInput> = {},
  heartbeatMs = 200,
): AgentService {
  return agentService.parse({
    tenantId,
    service,
    instances: instances.map((name) => ({ name, port: 0 })),
    command: [process.execPath, API_SERVER_ENTRY],
    env: { HEARTBEAT_MS: String(heartbeatMs) },
    ready: { path: '/healthz', pidField: 'pid' },
    ...extra,
  });
}
