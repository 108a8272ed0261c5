import { Inject, Injectable } from '@nestjs/common';
import { headers as natsHeaders, RequestError, TimeoutError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { agentCommandReply, agentCommandRequest, agentCommandSubject, newEventId, RUNTIME_ACTIONS, type AgentCommandFailureCode } from '@autoheal/contracts';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { ATTR_TENANT_ID, injectTraceContext, NATS_CONNECTION, requestSpan, SIGNING_MATERIAL, type SigningMaterial } from '@autoheal/messaging';
import { tracer } from '@autoheal/telemetry';
import { agentIdentity, signCommand, verifyReply, type SignedReply } from '@autoheal/security';
import { CLOCK, type Clock } from '../clock.js';
import type { ExecutorConfig } from '../config.js';
import { EXECUTOR_CONFIG } from '../executor.tokens.js';
import { DriverError, DriverErrorCode } from './driver.errors.js';
import { DriverRefusal, type DriverCommand, type DriverResult, type RemediationDriver, type RemediationTarget, type UnattributedReply } from './remediation-driver.js';
import { agentFor } from './target-agents.js';

const decoder = new TextDecoder();

export type NatsAgentDriverConfig = Pick<ExecutorConfig, 'AGENT_TIMEOUT_MS' | 'EXECUTOR_COMMAND_TTL_MS' | 'EXECUTOR_TARGET_AGENTS'>;

/**
 * The actions the host agent carries out (apps/agent; see its README for how).
 * failover is not among them: a host agent has no second region to move traffic to.
 */
/**
 * Carries actions out through the agent that supervises the tenant's processes: core NATS
 * request/reply on `agent.command.<tenant>.<service>.<instance>`, one command for every action
 * with the plan's parameters. Each command is signed with the executor's key (remediation id,
 * target, action, parameters, issued-at, expiry — see @autoheal/security signCommand) and valid
 * for EXECUTOR_COMMAND_TTL_MS. A reply counts only when signed by the key of the agent
 * EXECUTOR_TARGET_AGENTS registers for the target and answering this very command; any other is
 * reported as a failure (`unattributed_reply`) with a security event, never as success. The
 * agent's effects are reported as it states them. The trace context travels in the headers, so
 * the agent's work joins the trace.
 */
@Injectable()
export class NatsAgentDriver implements RemediationDriver {
  readonly name = 'nats-agent';
  readonly runtime = 'agent';
  readonly actions = RUNTIME_ACTIONS.agent;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(EXECUTOR_CONFIG) private readonly config: NatsAgentDriverConfig,
    @Inject(SIGNING_MATERIAL) private readonly signing: SigningMaterial,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async perform(command: DriverCommand): Promise<DriverResult> {
    const { remediationId, tenantId, service, instance, action, parameters } = command;
    const target: RemediationTarget = { tenantId, service, instance };
    // A target no agent is registered for is one this runtime does not know: no command for it
    // is put on the bus, where whoever answered could not be attributed anyway.
    const agentId = agentFor(this.config.EXECUTOR_TARGET_AGENTS, target);
    if (agentId === null) {
      return { ok: false, error: { code: DriverRefusal.UnknownTarget, message: `EXECUTOR_TARGET_AGENTS registers no agent for ${tenantId}/${service}/${instance}; nothing was sent` } };
    }
    const issuedAt = this.clock.now();
    const commandId = newEventId(issuedAt.getTime());
    const signed = signCommand(this.signing.key, {
      commandId,
      remediationId,
      ...target,
      action,
      parameters,
      issuedAt: issuedAt.toISOString(),
      expiresAt: new Date(issuedAt.getTime() + this.config.EXECUTOR_COMMAND_TTL_MS).toISOString(),
    });
    const request = agentCommandRequest.parse(signed);
    const subject = agentCommandSubject(target.tenantId, target.service, target.instance);
    const body = JSON.stringify(request);
    const { name, options } = requestSpan(this.nc, subject, Buffer.byteLength(body), { [ATTR_TENANT_ID]: target.tenantId, 'autoheal.remediation.id': remediationId, 'autoheal.action': action });
    const span = tracer.startSpan(name, options);
    let reply: Msg;
    try {
      // The agent's work joins the trace as a child of this span.
      reply = await this.nc.request(subject, body, { timeout: this.config.AGENT_TIMEOUT_MS, headers: injectTraceContext(natsHeaders(), trace.setSpan(context.active(), span)) });
    } catch (error) {
      const classified = classify(error, subject, this.config.AGENT_TIMEOUT_MS);
      span.setStatus({ code: SpanStatusCode.ERROR, message: classified.message });
      span.setAttribute(ATTR_ERROR_TYPE, classified.code);
      throw classified;
    } finally {
      span.end();
    }

    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(reply.data));
    } catch {
      throw new DriverError(DriverErrorCode.InvalidReply, `agent reply on ${subject} is not JSON`);
    }
    // Attribution first: whatever an unattributable reply says, it is not the agent's word.
    const unattributed = this.attribute(raw, target, agentId, remediationId, commandId);
    if (unattributed) {
      return { ok: false, error: { code: 'unattributed_reply', message: `${unattributed.reason}: ${unattributed.detail}` }, unattributed };
    }
    const parsed = agentCommandReply.safeParse(raw);
    if (!parsed.success) {
      throw new DriverError(DriverErrorCode.InvalidReply, `agent reply on ${subject} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const answer = parsed.data;
    if (!answer.ok) return { ok: false, error: { code: refusalCode(answer.code), message: answer.message } };
    if (answer.action !== action) {
      throw new DriverError(DriverErrorCode.InvalidReply, `agent reply on ${subject} reports a ${answer.action}, the command asked for ${action}`);
    }
    return {
      ok: true,
      effects: answer.effects,
      replayed: answer.replayed,
      details: { action: answer.action, effects: answer.effects, completedAt: answer.completedAt, replayed: answer.replayed, agentId: answer.agentId, keyId: answer.keyId },
    };
  }

  /** Why the reply cannot be attributed to the agent registered for the target, or null when it can. */
  private attribute(raw: unknown, target: RemediationTarget, agentId: string, remediationId: string, commandId: string): UnattributedReply | null {
    const reply = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<SignedReply>;
    const keyId = typeof reply.keyId === 'string' ? reply.keyId.slice(0, 200) : null;
    const base = { remediationId, commandId, service: target.service, instance: target.instance, keyId };
    const expectedSigner = agentIdentity(agentId);
    const verdict = verifyReply(this.signing.trust, reply, { identity: expectedSigner, remediationId, commandId }, this.clock.now());
    return verdict.ok ? null : { ...base, reason: verdict.reason, detail: verdict.detail.slice(0, 1_000), expectedSigner };
  }
}

/** The agent's refusals that every driver gives the same way take the shared code; the rest keep the agent's. */
function refusalCode(code: AgentCommandFailureCode): DriverRefusal | AgentCommandFailureCode {
  switch (code) {
    case 'unknown_instance':
      return DriverRefusal.UnknownTarget;
    case 'unsupported_action':
      return DriverRefusal.UnsupportedAction;
    case 'invalid_parameters':
      return DriverRefusal.InvalidParameters;
    case 'at_capacity':
    case 'spawn_failed':
    case 'not_ready':
    case 'not_acknowledged':
    case 'invalid_request':
    case 'command_rejected':
      return code;
  }
}

function classify(error: unknown, subject: string, timeoutMs: number): DriverError {
  if (error instanceof TimeoutError) {
    return new DriverError(DriverErrorCode.Timeout, `no answer from the agent on ${subject} within ${timeoutMs} ms`);
  }
  if (error instanceof RequestError && error.isNoResponders()) {
    return new DriverError(DriverErrorCode.Unreachable, `no agent listens on ${subject}`);
  }
  return new DriverError(DriverErrorCode.Unreachable, `request to the agent on ${subject} failed: ${(error as Error).message}`);
}
