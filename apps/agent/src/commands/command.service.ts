import { z } from 'zod';
import {
  agentCommandOutcome,
  agentCommandRequest,
  missingParameters,
  type AgentCommandFailureCode,
  type AgentCommandRequest,
  type RemediationAction,
} from '@autoheal/contracts';
import { CommandLedger, verifyCommand, type CommandTarget, type SignedCommand, type TrustStore } from '@autoheal/security';
import type { OutcomeStore } from './outcome-store.js';
import { AGENT_ACTIONS, carryOut, type ActionContext } from './remediation-actions.js';

/** What a command came to, before it is signed into a reply (see reply-signer.ts). Also what is remembered. */
export const commandOutcome = agentCommandOutcome;
export type CommandOutcome = z.infer<typeof commandOutcome>;
export type CommandSuccess = Extract<CommandOutcome, { ok: true }>;

/** The outcome of one request and the command it answers (null when the request carried no usable id). */
export interface HandledCommand {
  outcome: CommandOutcome;
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

export interface CommandServiceOptions extends ActionContext {
  outcomes: OutcomeStore<CommandOutcome>;
  commands: CommandPolicy;
}

/**
 * Carries out a remediation action on an instance, once: the remediation id is the idempotency
 * key. Only for a command the executor signed, fresh, aimed at the instance of the subject it
 * arrived on, and not a replay (see @autoheal/security verifyCommand, CommandLedger); any
 * other is refused (`command_rejected`) before anything is touched, as are an instance this
 * agent does not run, an action it cannot do and missing parameters.
 * A successful outcome is remembered (also across agent restarts) and replayed to anyone who
 * asks again with a valid command; a failed one is not, so the executor's retry gets a real
 * second attempt.
 */
export class CommandService {
  private readonly ledger: CommandLedger;

  constructor(private readonly options: CommandServiceOptions) {
    this.ledger = new CommandLedger(options.commands.maxLifetimeMs + 2 * options.commands.maxSkewMs);
  }

  async handle(subject: string, raw: unknown): Promise<HandledCommand> {
    const parsed = agentCommandRequest.safeParse(raw);
    if (!parsed.success) {
      const remediationId = (raw as { remediationId?: unknown } | null)?.remediationId;
      const commandId = (raw as { commandId?: unknown } | null)?.commandId;
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      return { outcome: failure(isUuid(remediationId) ? remediationId : NIL_UUID, 'invalid_request', message), commandId: isUuid(commandId) ? commandId : null };
    }
    const request = parsed.data;
    const answer = (outcome: CommandOutcome): HandledCommand => ({ outcome, commandId: request.commandId });
    const refused = this.refusal(subject, request);
    if (refused) {
      this.options.logger.warn({ subject, remediationId: request.remediationId, commandId: request.commandId, keyId: request.keyId, refused }, 'command refused; nothing done');
      return answer(failure(request.remediationId, 'command_rejected', refused));
    }
    const instance = this.options.supervisor.find(request);
    if (!instance) return answer(failure(request.remediationId, 'unknown_instance', `this agent does not run ${request.tenantId}/${request.service}/${request.instance}`));
    if (!isAgentAction(request.action)) {
      return answer(failure(request.remediationId, 'unsupported_action', `this agent cannot ${request.action} (it can ${AGENT_ACTIONS.join(', ')})`));
    }
    const missing = missingParameters(request.action, request.parameters);
    if (missing) return answer(failure(request.remediationId, 'invalid_parameters', missing));

    const { value, replayed } = await this.options.outcomes.once(request.remediationId, () => this.perform(instance, request));
    if (replayed) this.options.logger.info({ ...request, ok: value.ok }, 'already handled for this remediation; not repeating it');
    return answer(value.ok ? { ...value, replayed } : value);
  }

  private async perform(instance: Parameters<typeof carryOut>[1], request: AgentCommandRequest): Promise<CommandOutcome> {
    const result = await carryOut(this.options, instance, request);
    if (!result.ok) return failure(request.remediationId, result.code, result.message);
    return { ok: true, remediationId: request.remediationId, action: request.action, effects: result.effects, completedAt: this.options.clock.now().toISOString(), replayed: false };
  }

  /** Why the command must not be carried out, or null. */
  private refusal(subject: string, request: AgentCommandRequest): string | null {
    const now = this.options.clock.now();
    const { trust, maxSkewMs, maxLifetimeMs } = this.options.commands;
    const verdict = verifyCommand(trust, request, { now, subjectTarget: subjectTarget(subject), runs: () => true, maxSkewMs, maxLifetimeMs });
    if (!verdict.ok) return `${verdict.reason}: ${verdict.detail}`;
    // Signed (verifyCommand checked it), so keyId and signature are present.
    const admitted = this.ledger.admit(request as SignedCommand, now);
    return admitted.ok ? null : `${admitted.reason}: ${admitted.detail}`;
  }
}

function isAgentAction(action: RemediationAction): action is (typeof AGENT_ACTIONS)[number] {
  return (AGENT_ACTIONS as readonly RemediationAction[]).includes(action);
}

/** `agent.command.<tenant>.<service>.<instance>` → its target; anything else names no target (and matches none). */
function subjectTarget(subject: string): CommandTarget {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts[0] !== 'agent' || parts[1] !== 'command') return { tenantId: '', service: '', instance: '' };
  return { tenantId: parts[2], service: parts[3], instance: parts[4] };
}

/** Only successes are final; see the class comment. */
export function isFinalOutcome(outcome: CommandOutcome): boolean {
  return outcome.ok;
}

function failure(remediationId: string, code: AgentCommandFailureCode, message: string): CommandOutcome {
  return { ok: false, remediationId, code, message };
}

function isUuid(value: unknown): value is string {
  return z.uuid().safeParse(value).success;
}
