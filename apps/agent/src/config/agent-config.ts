import { readFileSync } from 'node:fs';
import { agentConfigFile, INITIAL_RELEASE, type AgentConfigFile, type AgentRelease, type AgentService } from '@autoheal/contracts';

export type AgentConfig = AgentConfigFile;
export type ServiceConfig = AgentService;
export type Release = AgentRelease;
export { INITIAL_RELEASE, PREVIOUS_RELEASE } from '@autoheal/contracts';

/** Where the config file is: `--config <file>`, else AUTOHEAL_AGENT_CONFIG. */
export function configPath(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const at = argv.indexOf('--config');
  const path = at >= 0 ? argv[at + 1] : env.AUTOHEAL_AGENT_CONFIG;
  if (!path) throw new AgentConfigError('(command line)', ['no config file: pass --config <file> or set AUTOHEAL_AGENT_CONFIG']);
  return path;
}

export class AgentConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid agent configuration ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'AgentConfigError';
  }
}

/** Validates parsed JSON once at boot; the error names every bad field at once. */
export function parseAgentConfig(raw: unknown, source = 'agent config'): AgentConfig {
  const result = agentConfigFile.safeParse(raw);
  if (!result.success) {
    throw new AgentConfigError(
      source,
      result.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

export function loadAgentConfig(path: string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AgentConfigError(path, [error instanceof Error ? error.message : String(error)]);
  }
  return parseAgentConfig(raw, path);
}

/** One process the agent runs. */
export interface InstanceRef {
  tenantId: string;
  service: string;
  instance: string;
}

export function instanceKey(ref: InstanceRef): string {
  return `${ref.tenantId}/${ref.service}/${ref.instance}`;
}

/** Where a service is known: tenant and service. */
export function serviceKey(ref: Pick<InstanceRef, 'tenantId' | 'service'>): string {
  return `${ref.tenantId}/${ref.service}`;
}

/** The release a service's instances start on: the last one of its history that is not staged. */
export function startingRelease(history: readonly Release[]): Release {
  return history.findLast((r) => !r.staged) ?? INITIAL_RELEASE;
}

/** One configured instance: who it is and its public port (0: the OS picks one). */
export interface ConfiguredInstance {
  ref: InstanceRef;
  port: number;
}

/** Every configured instance in file order: services, then instances. */
export function configuredInstances(services: readonly ServiceConfig[]): ConfiguredInstance[] {
  return services.flatMap((service) =>
    service.instances.map((instance) => ({ ref: { tenantId: service.tenantId, service: service.service, instance: instance.name }, port: instance.port })),
  );
}

/** Each service's config by serviceKey. */
export function servicesByKey(services: readonly ServiceConfig[]): Map<string, ServiceConfig> {
  return new Map(services.map((service) => [serviceKey(service), service]));
}
