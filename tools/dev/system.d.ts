// Types for system.js, so the end-to-end tests drive the system type-checked.
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  readonly logPath: string;
  readonly restarts: number;
  start(): unknown;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  /** SIGKILLs the process and every process it started, at once, and never starts it again: a lost host (agents other than the demo fleet's only). */
  loseHost(): Promise<void>;
}

export interface ServicePorts {
  auditor: number;
  detector: number;
  decision: number;
  executor: number;
  /** The ops console (started only with `console: true`). */
  console: number;
}

/** The services, `agent` (the demo fleet's agent) and `agent-<id>` for each other agent the fleet file names (agentProcessName). */
export type ProcessName = 'auditor' | 'detector' | 'decision' | 'executor' | 'agent' | `agent-${string}` | 'console';

export interface StartSystemOptions {
  natsUrl: string;
  /** The CA of the server and the folder of the identities' seeds (`detector.nk`, `agent-demo-fleet.nk`, `producer-<tenant>.nk`…). */
  natsCredentials?: { caFile: string; seedDir: string };
  /** The database (any login to it): each service gets its own role's login (tools/infra/postgres-roles.js). */
  databaseUrl: string;
  stateDir: string;
  ports?: Partial<ServicePorts>;
  env?: Record<string, string>;
  fleetFile?: string;
  restartOnExit?: boolean;
  /** Also start the ops console (apps/console) on ports.console, in front of the auditor and the decision service. */
  console?: boolean;
  onOutput?: (name: ProcessName, chunk: Buffer) => void;
  /** Called when a process exits without having been asked to stop. */
  onExit?: (name: ProcessName, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface RunningSystem {
  ports: ServicePorts;
  services: Map<ProcessName, ManagedProcess>;
  logDir: string;
  /** Where the demo's traffic switch records the routes failovers set, one JSON line each. */
  routesFile: string;
  waitHealthy(timeoutMs?: number): Promise<void>;
  restart(name: ProcessName): Promise<void>;
  stop(): Promise<void>;
}

export function startSystem(options: StartSystemOptions): Promise<RunningSystem>;
/** Every service's migrations, as the owner role, on `databaseUrl`'s database. */
export function migrateAll(databaseUrl: string): void;
export function waitForHealth(name: string, port: number, timeoutMs: number, logPath?: string): Promise<void>;
export function agentProcessName(agentId: string): ProcessName;
export const DEFAULT_PORTS: ServicePorts;
export const ROOT: string;
