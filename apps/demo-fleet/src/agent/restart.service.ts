import { z } from 'zod';
import {
  agentRestartRequest,
  agentRestartSubject,
  type AgentRestartReply,
  type AgentRestartRequest,
} from '@autoheal/contracts';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { FleetSupervisor } from './fleet-supervisor.js';
import type { ManagedInstance } from './managed-instance.js';
import type { OutcomeStore } from './outcome-store.js';
import { waitForReady } from './readiness.js';

type RestartFailureCode = Extract<AgentRestartReply, { ok: false }>['code'];
export type RestartSuccess = Extract<AgentRestartReply, { ok: true }>;

/** Stands in for the remediation id of a request too broken to carry one; the reply schema needs a UUID. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export interface RestartServiceOptions {
  supervisor: FleetSupervisor;
  outcomes: OutcomeStore<AgentRestartReply>;
  clock: Clock;
  /** How long a restarted instance has to answer GET /healthz. */
  readyTimeoutMs: number;
  logger: Logger;
}

/**
 * Restarts an instance for a remediation, once: the remediation id is the idempotency key.
 * A successful outcome is remembered (also across agent restarts) and replayed to anyone who
 * asks again; a failed one is not, so the executor's retry gets a real second attempt.
 */
export class RestartService {
  constructor(private readonly options: RestartServiceOptions) {}

  async handle(subject: string, raw: unknown): Promise<AgentRestartReply> {
    const parsed = agentRestartRequest.safeParse(raw);
    if (!parsed.success) {
      const remediationId = (raw as { remediationId?: unknown } | null)?.remediationId;
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      return failure(isUuid(remediationId) ? remediationId : NIL_UUID, 'invalid_request', message);
    }
    const request = parsed.data;
    const expected = agentRestartSubject(request.tenantId, request.service, request.instance);
    if (subject !== expected) {
      // The subject routes the request; a body naming another instance is a caller bug, not a wish.
      return failure(request.remediationId, 'invalid_request', `request for ${expected} arrived on ${subject}`);
    }
    const instance = this.options.supervisor.find(request);
    if (!instance) {
      return failure(
        request.remediationId,
        'unknown_instance',
        `this agent does not run ${request.tenantId}/${request.service}/${request.instance}`,
      );
    }
    const { value, replayed } = await this.options.outcomes.once(request.remediationId, () =>
      instance.exclusive(() => this.restart(instance, request)),
    );
    if (replayed) {
      this.options.logger.info({ ...request, ok: value.ok }, 'restart already handled for this remediation; not repeating it');
    }
    return value.ok ? { ...value, replayed } : value;
  }

  private async restart(instance: ManagedInstance, request: AgentRestartRequest): Promise<AgentRestartReply> {
    const { logger, clock, readyTimeoutMs } = this.options;
    const previousPid = instance.pid;
    await instance.kill('restart');
    const restartedAt = clock.now();
    let pid: number;
    try {
      pid = instance.start();
    } catch (error) {
      logger.error({ ...request, err: error }, 'restart: spawn failed');
      return failure(request.remediationId, 'spawn_failed', error instanceof Error ? error.message : String(error));
    }
    instance.recordRestart(request.remediationId);
    const readiness = await waitForReady({ port: instance.port, pid, timeoutMs: readyTimeoutMs, exited: instance.exited });
    switch (readiness) {
      case 'ready':
        logger.info({ ...request, previousPid, instancePid: pid }, 'restarted');
        return { ok: true, remediationId: request.remediationId, pid, restartedAt: restartedAt.toISOString(), replayed: false };
      case 'exited':
        logger.error({ ...request, instancePid: pid, lastExit: instance.status().lastExit }, 'restart: instance exited before it was ready');
        return failure(request.remediationId, 'spawn_failed', `pid ${pid} exited before answering GET /healthz`);
      case 'timeout':
        logger.error({ ...request, instancePid: pid, readyTimeoutMs }, 'restart: instance not ready in time');
        return failure(request.remediationId, 'not_ready', `pid ${pid} did not answer GET /healthz within ${readyTimeoutMs} ms`);
      default:
        return assertNever(readiness);
    }
  }
}

/** Only successes are final; see the class comment. */
export function isFinalOutcome(reply: AgentRestartReply): boolean {
  return reply.ok;
}

function failure(remediationId: string, code: RestartFailureCode, message: string): AgentRestartReply {
  return { ok: false, remediationId, code, message };
}

function isUuid(value: unknown): value is string {
  return z.uuid().safeParse(value).success;
}

function assertNever(value: never): never {
  throw new Error(`unhandled readiness ${String(value)}`);
}
