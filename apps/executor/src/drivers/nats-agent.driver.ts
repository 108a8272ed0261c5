import { Inject, Injectable } from '@nestjs/common';
import { headers as natsHeaders, RequestError, TimeoutError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { agentRestartReply, agentRestartRequest, agentRestartSubject } from '@autoheal/contracts';
import { injectTraceContext, NATS_CONNECTION } from '@autoheal/messaging';
import type { ExecutorConfig } from '../config.js';
import { EXECUTOR_CONFIG } from '../executor.tokens.js';
import { DriverError, DriverErrorCode } from './driver.errors.js';
import type { DriverResult, RemediationDriver, RemediationTarget } from './remediation-driver.js';

const decoder = new TextDecoder();

/**
 * Restarts through the agent that supervises the tenant's processes: core NATS request/reply
 * on `agent.restart.<tenant>.<service>.<instance>`. The trace context travels in the headers,
 * so the agent's restart joins the incident's trace.
 */
@Injectable()
export class NatsAgentDriver implements RemediationDriver {
  readonly name = 'nats-agent';

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(EXECUTOR_CONFIG) private readonly config: Pick<ExecutorConfig, 'AGENT_TIMEOUT_MS'>,
  ) {}

  async restart(target: RemediationTarget, remediationId: string): Promise<DriverResult> {
    const request = agentRestartRequest.parse({ remediationId, ...target });
    const subject = agentRestartSubject(target.tenantId, target.service, target.instance);
    let reply: Msg;
    try {
      reply = await this.nc.request(subject, JSON.stringify(request), { timeout: this.config.AGENT_TIMEOUT_MS, headers: injectTraceContext(natsHeaders()) });
    } catch (error) {
      throw classify(error, subject, this.config.AGENT_TIMEOUT_MS);
    }

    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(reply.data));
    } catch {
      throw new DriverError(DriverErrorCode.InvalidReply, `agent reply on ${subject} is not JSON`);
    }
    const parsed = agentRestartReply.safeParse(raw);
    if (!parsed.success) {
      throw new DriverError(DriverErrorCode.InvalidReply, `agent reply on ${subject} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const answer = parsed.data;
    if (answer.remediationId !== remediationId) {
      throw new DriverError(DriverErrorCode.InvalidReply, `agent answered for remediation ${answer.remediationId}, asked about ${remediationId}`);
    }
    return answer.ok
      ? { ok: true, details: { pid: answer.pid, restartedAt: answer.restartedAt, replayed: answer.replayed } }
      : { ok: false, error: { code: answer.code, message: answer.message } };
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
