import { agentChaosRequest, type AgentChaosReply, type AgentChaosRequest } from '@autoheal/contracts';
import type { Logger } from '../logger.js';
import type { FleetSupervisor } from '../supervisor/fleet-supervisor.js';
import type { ManagedInstance } from '../supervisor/managed-instance.js';
import { waitForReady } from '../supervisor/readiness.js';

/**
 * kill: SIGKILL, and the instance stays dead (the agent does not restart it; autoheal should).
 * hang: SIGSTOP, the process holds its port but stops heartbeating.
 * errors | slow | leak: the process keeps running and heartbeating but answers 500s, answers
 * late, or retains memory (the instance's part, see DEGRADATIONS in the contracts) until it is restarted or resumed.
 * resume: SIGCONT, and stop degrading.
 * release: a deploy by hand: SIGKILL, and start again on the named release of the service (same
 * port), waiting until the new process answers. A release that carries a fault is a
 * bad deploy: a restart keeps it, a rollback to the previous release clears it.
 */
export class ChaosService {
  constructor(
    private readonly supervisor: FleetSupervisor,
    private readonly logger: Logger,
    /** How long the process of a rolled-out release has to answer GET /healthz. */
    private readonly readyTimeoutMs = 10_000,
  ) {}

  async handle(raw: unknown): Promise<AgentChaosReply> {
    const parsed = agentChaosRequest.safeParse(raw);
    if (!parsed.success) {
      return {
        ok: false,
        code: 'invalid_request',
        message: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
      };
    }
    const request = parsed.data;
    const instance = this.supervisor.find(request);
    if (!instance) {
      return {
        ok: false,
        code: 'unknown_instance',
        message: `this agent does not run ${request.tenantId}/${request.service}/${request.instance}`,
      };
    }
    return instance.exclusive(() => this.apply(instance, request));
  }

  private async apply(instance: ManagedInstance, request: AgentChaosRequest): Promise<AgentChaosReply> {
    const pid = instance.pid;
    const notRunning: AgentChaosReply = { ok: false, code: 'not_running', message: `${instance.describe()} is not running` };
    if (pid === null) return notRunning;
    // degrade() is false when the process died on its own since: exclusive() orders only the agent's actions.
    switch (request.action) {
      case 'kill':
        await instance.kill('chaos');
        break;
      case 'hang':
        instance.hang();
        break;
      case 'resume':
        instance.resume();
        if (!(await instance.degrade(null))) return notRunning;
        break;
      case 'errors':
      case 'slow':
      case 'leak':
        if (!(await instance.degrade(request.action))) return notRunning;
        break;
      case 'release': {
        const failure = await this.rollOut(instance, request.release ?? '');
        if (failure) return failure;
        break;
      }
      default:
        return assertNever(request.action);
    }
    this.logger.warn({ ...instance.ref, instancePid: pid, action: request.action, release: instance.release.version }, 'chaos applied');
    return { ok: true, action: request.action, instance: instance.status() };
  }

  /** Starts the instance again on `version`; the failure to answer, or null once the new process answers. */
  private async rollOut(instance: ManagedInstance, version: string): Promise<AgentChaosReply | null> {
    const history = this.supervisor.releasesOf(instance.ref);
    const release = history.find((r) => r.version === version);
    if (!release) {
      return { ok: false, code: 'unknown_release', message: `release: ${instance.describe()} has no release ${version} (releases: ${history.map((r) => r.version).join(', ')})` };
    }
    let pid: number;
    try {
      ({ pid } = await instance.rollOut(release));
    } catch (error) {
      return { ok: false, code: 'not_ready', message: error instanceof Error ? error.message : String(error) };
    }
    const readiness = await waitForReady({ port: instance.port, pid, probe: this.supervisor.readyProbeOf(instance.ref), timeoutMs: this.readyTimeoutMs, exited: instance.exited });
    if (readiness !== 'ready') return { ok: false, code: 'not_ready', message: `pid ${pid} on release ${version}: ${readiness} before passing its ready probe` };
    return null;
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled chaos action ${String(value)}`);
}
