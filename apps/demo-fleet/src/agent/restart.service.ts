import { z } from 'zod';
import { agentRestartRequest, type AgentRestartRequest } from '@autoheal/contracts';
import { CommandLedger, verifyCommand, type CommandTarget, type SignedCommand, type TrustStore } from '@autoheal/security';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { FleetSupervisor } from './fleet-supervisor.js';
import type { ManagedInstance } from './managed-instance.js';
import type { OutcomeStore } from './outcome-store.js';
import { waitForReady } from './readiness.js';

/** What a restart came to, before it is signed into a reply (see reply-signer.ts). Also what is remembered. */
export const restartOutcome = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), remediationId: z.uuid(), pid: z.number().int().positive(), restartedAt: z.iso.datetime(), replayed: z.boolean() }).strict(),
  z
    .object({
      ok: z.literal(false),
      remediationId: z.uuid(),
      code: z.enum(['unknown_instance', 'spawn_failed', 'not_ready', 'invalid_request', 'command_rejected']),
      message: z.string(),
    })
    .strict(),
]);
export type RestartOutcome = z.infer<typeof restartOutcome>;
type RestartFailureCode = Extract<RestartOutcome, { ok: false }>['code'];
export type RestartSuccess = Extract<RestartOutcome, { ok: true }>;

/** The outcome of one request and the command it answers (null when the request carried no usable id). */
export interface HandledRestart {
  outcome: RestartOutcome;
  commandId: string | null;
}

/** Stands in for the remediation id of a request too broken to carry one; the reply schema needs a UUID. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export interface CommandPolicy {
  trust: TrustStore;
  /** Clock difference tolerated between the executor and this agent. */
  maxSkewMs: number;
  /** Longest validity a command may ask for. */
  maxLifetimeMs: number;
}

export interface RestartServiceOptions {
  supervisor: FleetSupervisor;
  outcomes: OutcomeStore<RestartOutcome>;
  clock: Clock;
  /** How long a restarted instance has to answer GET /healthz. */
  readyTimeoutMs: number;
  logger: Logger;
  commands: CommandPolicy;
}

/**
 * Restarts an instance for a remediation, once: the remediation id is the idempotency key.
 * Only for a command the executor signed, fresh, aimed at the instance of the subject it
 * arrived on, and not a replay (see @autoheal/security verifyCommand, CommandLedger); any
 * other is refused (`command_rejected`) before anything is touched.
 * A successful outcome is remembered (also across agent restarts) and replayed to anyone who
 * asks again with a valid command; a failed one is not, so the executor's retry gets a real
 * second attempt.
 */
export class RestartService {
  private readonly ledger: CommandLedger;

  constructor(private readonly options: RestartServiceOptions) {
    this.ledger = new CommandLedger(options.commands.maxLifetimeMs + 2 * options.commands.maxSkewMs);
  }

  async handle(subject: string, raw: unknown): Promise<HandledRestart> {
    const parsed = agentRestartRequest.safeParse(raw);
    if (!parsed.success) {
      const remediationId = (raw as { remediationId?: unknown } | null)?.remediationId;
      const commandId = (raw as { commandId?: unknown } | null)?.commandId;
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      return { outcome: failure(isUuid(remediationId) ? remediationId : NIL_UUID, 'invalid_request', message), commandId: isUuid(commandId) ? commandId : null };
    }
    const request = parsed.data;
    const refused = this.refusal(subject, request);
    if (refused) {
      this.options.logger.warn({ subject, remediationId: request.remediationId, commandId: request.commandId, keyId: request.keyId, refused }, 'command refused; nothing done');
      return { outcome: failure(request.remediationId, 'command_rejected', refused), commandId: request.commandId };
    }
    const instance = this.options.supervisor.find(request);
    if (!instance) {
      return {
        outcome: failure(request.remediationId, 'unknown_instance', `this agent does not run ${request.tenantId}/${request.service}/${request.instance}`),
        commandId: request.commandId,
      };
    }
    const { value, replayed } = await this.options.outcomes.once(request.remediationId, () => instance.exclusive(() => this.restart(instance, request)));
    if (replayed) {
      this.options.logger.info({ ...request, ok: value.ok }, 'restart already handled for this remediation; not repeating it');
    }
    return { outcome: value.ok ? { ...value, replayed } : value, commandId: request.commandId };
  }

  /** Why the command must not be carried out, or null. */
  private refusal(subject: string, request: AgentRestartRequest): string | null {
    const now = this.options.clock.now();
    const { trust, maxSkewMs, maxLifetimeMs } = this.options.commands;
    const verdict = verifyCommand(trust, request, { now, subjectTarget: subjectTarget(subject), runs: () => true, maxSkewMs, maxLifetimeMs });
    if (!verdict.ok) return `${verdict.reason}: ${verdict.detail}`;
    // Signed (verifyCommand checked it), so keyId and signature are present.
    const admitted = this.ledger.admit(request as SignedCommand, now);
    return admitted.ok ? null : `${admitted.reason}: ${admitted.detail}`;
  }

  private async restart(instance: ManagedInstance, request: AgentRestartRequest): Promise<RestartOutcome> {
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
        logger.info({ remediationId: request.remediationId, commandId: request.commandId, previousPid, instancePid: pid }, 'restarted');
        return { ok: true, remediationId: request.remediationId, pid, restartedAt: restartedAt.toISOString(), replayed: false };
      case 'exited':
        logger.error({ remediationId: request.remediationId, instancePid: pid, lastExit: instance.status().lastExit }, 'restart: instance exited before it was ready');
        return failure(request.remediationId, 'spawn_failed', `pid ${pid} exited before answering GET /healthz`);
      case 'timeout':
        logger.error({ remediationId: request.remediationId, instancePid: pid, readyTimeoutMs }, 'restart: instance not ready in time');
        return failure(request.remediationId, 'not_ready', `pid ${pid} did not answer GET /healthz within ${readyTimeoutMs} ms`);
      default:
        return assertNever(readiness);
    }
  }
}

/** `agent.restart.<tenant>.<service>.<instance>` → its target; anything else names no target (and matches none). */
function subjectTarget(subject: string): CommandTarget {
  const parts = subject.split('.');
  if (parts.length !== 5) return { tenantId: '', service: '', instance: '' };
  return { tenantId: parts[2], service: parts[3], instance: parts[4] };
}

/** Only successes are final; see the class comment. */
export function isFinalOutcome(outcome: RestartOutcome): boolean {
  return outcome.ok;
}

function failure(remediationId: string, code: RestartFailureCode, message: string): RestartOutcome {
  return { ok: false, remediationId, code, message };
}

function isUuid(value: unknown): value is string {
  return z.uuid().safeParse(value).success;
}

function assertNever(value: never): never {
  throw new Error(`unhandled readiness ${String(value)}`);
}
