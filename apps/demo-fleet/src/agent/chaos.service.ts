import type { Logger } from '../logger.js';
import { agentChaosRequest, type AgentChaosReply, type AgentChaosRequest } from './chaos.contract.js';
import type { FleetSupervisor } from './fleet-supervisor.js';
import type { ManagedInstance } from './managed-instance.js';

/**
 * kill: SIGKILL, and the instance stays dead (the agent does not restart it; autoheal should).
 * hang: SIGSTOP, the process holds its port but stops heartbeating.
 * errors | slow | leak: the process keeps running and heartbeating but answers 500s, answers
 * late, or retains memory (see api-server/degradation.ts) until it is restarted or resumed.
 * resume: SIGCONT, and stop degrading.
 */
export class ChaosService {
  constructor(
    private readonly supervisor: FleetSupervisor,
    private readonly logger: Logger,
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
      default:
        return assertNever(request.action);
    }
    this.logger.warn({ ...instance.ref, instancePid: pid, action: request.action }, 'chaos applied');
    return { ok: true, action: request.action, instance: instance.status() };
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled chaos action ${String(value)}`);
}
