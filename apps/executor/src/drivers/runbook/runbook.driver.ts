import { Inject, Injectable } from '@nestjs/common';
import { context, propagation } from '@opentelemetry/api';
import { RUNTIME_ACTIONS, type RemediationRuntime } from '@autoheal/contracts';
import { CLOCK, type Clock } from '../../clock.js';
import type { ExecutorConfig } from '../../config.js';
import { EXECUTOR_CONFIG, SECRET_RESOLVER } from '../../executor.tokens.js';
import type { SecretResolver } from '../../secrets.js';
import { DriverError, DriverErrorCode } from '../driver.errors.js';
import { DriverRefusal, type DriverCommand, type DriverResult, type RemediationDriver, type UnattributedReply } from '../remediation-driver.js';
import { RecentOutcomes } from './recent-outcomes.js';
import { RunbookCallbacks, type CallbackRejection } from './runbook-callbacks.js';
import { RunbookFailure } from './runbook.errors.js';
import {
  interpretAnswer,
  isTransientStatus,
  MAX_ANSWER_BYTES,
  parseRunbookSecret,
  runbookRequest,
  signedHeaders,
  verifySigned,
  WEBHOOK_ID,
  WEBHOOK_SIGNATURE,
  WEBHOOK_TIMESTAMP,
  type FinalOutcome,
} from './runbook.protocol.js';

export type RunbookDriverConfig = Pick<ExecutorConfig, 'EXECUTOR_RUNBOOK_TIMEOUT_MS' | 'EXECUTOR_PUBLIC_URL'>;
type RunbookRuntime = Extract<RemediationRuntime, { kind: 'runbook' }>;

/** Outcomes remembered in this process, so that asking again does not call the runbook again. */
const REMEMBERED_OUTCOMES = 10_000;

/** Where runbooks POST the outcome of a remediation they answered 202 for. */
export function callbackUrl(publicUrl: string, remediationId: string): string {
  return `${publicUrl}/v1/runbook-callbacks/${remediationId}`;
}

/** A call's result, and whether it is the runbook's own final word (remembered) or not (asked again next time). */
interface CallResult {
  result: DriverResult;
  final: boolean;
}

/**
 * Carries any action out through the tenant's own automation (Rundeck, an SSM adapter, their
 * service): the runbook decides how. One signed POST (Standard Webhooks, `webhook-id` = the
 * remediation id) to `runtime.url`; the runbook answers with the outcome, signed with the same
 * secret, or 202 and later a signed callback to /v1/runbook-callbacks/:remediationId. An answer
 * or callback that is not signed by that secret is never counted as success.
 *
 * Idempotent by remediation id: within this process, concurrent calls share one request and a
 * finished outcome is remembered (the last REMEMBERED_OUTCOMES); across restarts the runbook's
 * own dedupe by webhook-id applies (the executor README asks runbook authors for it).
 */
@Injectable()
export class RunbookDriver implements RemediationDriver {
  readonly name = 'runbook';
  readonly runtime = 'runbook';
  readonly actions = RUNTIME_ACTIONS.runbook;
  private readonly inFlight = new Map<string, Promise<CallResult>>();
  private readonly finished = new RecentOutcomes<DriverResult>(REMEMBERED_OUTCOMES);

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly config: RunbookDriverConfig,
    @Inject(SECRET_RESOLVER) private readonly secrets: SecretResolver,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly callbacks: RunbookCallbacks,
  ) {}

  async perform(command: DriverCommand): Promise<DriverResult> {
    const { remediationId } = command;
    const remembered = this.finished.get(remediationId);
    if (remembered) return asReplay(remembered);
    const running = this.inFlight.get(remediationId);
    if (running) return asReplay((await running).result);

    const call = this.call(command)
      .then((outcome) => {
        // Remembered before it leaves inFlight, so that no caller finds neither.
        if (outcome.final) this.finished.remember(remediationId, outcome.result);
        return outcome;
      })
      .finally(() => this.inFlight.delete(remediationId));
    this.inFlight.set(remediationId, call);
    return (await call).result;
  }

  private async call(command: DriverCommand): Promise<CallResult> {
    const { runtime } = command;
    if (runtime.kind !== 'runbook') {
      return notFinal(failure(DriverRefusal.NoDriver, `driver ${this.name} runs runbook targets, not ${runtime.kind}`));
    }
    const secretValue = this.secrets(runtime.secretRef);
    if (secretValue === undefined) {
      return notFinal(failure(RunbookFailure.SecretMissing, `the executor holds no secret named ${runtime.secretRef} (an environment variable of that name); nothing was sent`));
    }
    const secret = parseRunbookSecret(secretValue);
    if (!secret.ok) {
      return notFinal(failure(RunbookFailure.SecretInvalid, `secret ${runtime.secretRef} ${secret.problem} (Standard Webhooks: whsec_ + base64 of 24 to 64 bytes); nothing was sent`));
    }

    const timeoutMs = runtime.timeoutMs ?? this.config.EXECUTOR_RUNBOOK_TIMEOUT_MS;
    const sentAt = this.clock.now();
    const body = JSON.stringify(
      runbookRequest.parse({
        type: 'autoheal.remediation',
        remediationId: command.remediationId,
        tenantId: command.tenantId,
        service: command.service,
        instance: command.instance,
        action: command.action,
        parameters: command.parameters,
        callbackUrl: callbackUrl(this.config.EXECUTOR_PUBLIC_URL, command.remediationId),
        deadline: new Date(sentAt.getTime() + timeoutMs).toISOString(),
      }),
    );
    const headers: Record<string, string> = { 'content-type': 'application/json', ...signedHeaders(secret.webhook, command.remediationId, sentAt, body) };
    propagation.inject(context.active(), headers);

    // One deadline for the whole call, answer and callback alike.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    // Registered before sending: the callback may come before the 202 is read.
    const expected = this.callbacks.expect(command.remediationId, secret.webhook);
    const where = describeUrl(runtime.url);
    try {
      const answer = await post(runtime.url, body, headers, deadline.signal, timeoutMs);
      if (isTransientStatus(answer.status)) throw new DriverError(DriverErrorCode.Unreachable, `runbook ${where} answered ${answer.status}`);
      if (answer.status >= 300 && answer.status < 400) {
        throw new DriverError(DriverErrorCode.InvalidReply, `runbook ${where} answered ${answer.status}: redirects are not followed (point runtime.url at the runbook itself)`);
      }
      // Attribution first: whatever an unsigned answer says, it is not the runbook's word.
      const signature = verifySigned(secret.webhook, answer.text, answer.headers, command.remediationId);
      if (!signature.ok) return notFinal(unattributedFailure(command, runtime, 'answer', signature));

      const said = interpretAnswer(answer.status, answer.text);
      if (said.kind !== 'accepted') return toResult(said, where);
      const waited = await expected.wait(deadline.signal);
      if (waited.kind === 'arrived') return toResult(waited.outcome, where);
      if (waited.rejection) return notFinal(unattributedFailure(command, runtime, 'callback', waited.rejection));
      throw new DriverError(DriverErrorCode.Timeout, `runbook ${where} accepted remediation ${command.remediationId} but did not call back within ${timeoutMs} ms`);
    } finally {
      clearTimeout(timer);
      expected.cancel();
    }
  }
}

/** What the runbook said, as the driver reports it. */
function toResult(outcome: FinalOutcome, where: string): CallResult {
  switch (outcome.kind) {
    case 'done':
      return {
        result: { ok: true, effects: outcome.effects, replayed: outcome.replayed, details: { runbook: where, effects: outcome.effects.length, replayed: outcome.replayed } },
        final: true,
      };
    case 'failed':
      return { result: failure(outcome.code, outcome.message), final: true };
    case 'invalid':
      throw new DriverError(DriverErrorCode.InvalidReply, `runbook ${where}: ${outcome.detail}`);
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled runbook outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

function failure(code: string, message: string): DriverResult {
  return { ok: false, error: { code, message } };
}

function notFinal(result: DriverResult): CallResult {
  return { result, final: false };
}

/** Reported as `replayed`: this call did nothing, the first one did. */
function asReplay(result: DriverResult): DriverResult {
  return result.ok ? { ...result, replayed: true, details: { ...result.details, replayed: true } } : result;
}

function unattributedFailure(command: DriverCommand, runtime: RunbookRuntime, what: 'answer' | 'callback', rejection: CallbackRejection): DriverResult {
  const unattributed: UnattributedReply = {
    reason: rejection.reason,
    detail: `${what}: ${rejection.detail}`.slice(0, 1_000),
    remediationId: command.remediationId,
    // The runbook protocol has one id per command: the webhook-id, which is the remediation id.
    commandId: command.remediationId,
    service: command.service,
    instance: command.instance,
    expectedSigner: `runbook:${runtime.secretRef}`,
    keyId: null,
  };
  return { ok: false, error: { code: RunbookFailure.Unattributed, message: `${what} not signed by the runbook (${unattributed.reason}): ${rejection.detail}` }, unattributed };
}

interface RawAnswer {
  status: number;
  headers: Record<string, string | undefined>;
  text: string;
}

/** POSTs and reads the answer (at most MAX_ANSWER_BYTES) before `deadline`; no answer is a DriverError. */
async function post(url: string, body: string, headers: Record<string, string>, deadline: AbortSignal, timeoutMs: number): Promise<RawAnswer> {
  const where = describeUrl(url);
  try {
    const response = await fetch(url, { method: 'POST', body, headers, signal: deadline, redirect: 'manual' });
    const text = await readCapped(response, MAX_ANSWER_BYTES, where);
    return {
      status: response.status,
      headers: {
        [WEBHOOK_ID]: response.headers.get(WEBHOOK_ID) ?? undefined,
        [WEBHOOK_TIMESTAMP]: response.headers.get(WEBHOOK_TIMESTAMP) ?? undefined,
        [WEBHOOK_SIGNATURE]: response.headers.get(WEBHOOK_SIGNATURE) ?? undefined,
      },
      text,
    };
  } catch (error) {
    if (error instanceof DriverError) throw error;
    if (deadline.aborted) throw new DriverError(DriverErrorCode.Timeout, `no answer from runbook ${where} within ${timeoutMs} ms`);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new DriverError(DriverErrorCode.Unreachable, `runbook ${where} unreachable: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
}

async function readCapped(response: Response, limit: number, where: string): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await response.body.cancel().catch(() => undefined);
      throw new DriverError(DriverErrorCode.InvalidReply, `runbook ${where} answered more than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The URL without credentials or query (they may hold a token): what messages and events show. */
function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
