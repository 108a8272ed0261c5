import { Injectable } from '@nestjs/common';
import type { Webhook } from 'standardwebhooks';
import { createLogger } from '@autoheal/telemetry';
import { interpretCallback, verifySigned, type FinalOutcome, type SignatureVerdict } from './runbook.protocol.js';

const log = createLogger('executor');

/** Why a callback could not be attributed to the runbook. */
export type CallbackRejection = Extract<SignatureVerdict, { ok: false }>;

/** What came of one callback request (RunbookCallbackController maps it to a status). */
export type CallbackVerdict =
  | { kind: 'accepted' }
  /** Nobody here waits for this remediation: unknown, already answered, past its deadline, or another replica's. */
  | { kind: 'unknown_remediation' }
  /** Not signed by the runbook's secret as this remediation's callback: ignored, the call keeps waiting. */
  | { kind: 'unattributed'; rejection: CallbackRejection }
  /** Signed, but not a callback the protocol allows: the call ends (DriverError, retried). */
  | { kind: 'invalid'; detail: string };

/** How the wait for a callback ended. */
export type CallbackWait =
  | { kind: 'arrived'; outcome: FinalOutcome }
  /** The deadline passed first; `rejection` is the last unattributable callback seen meanwhile, if any. */
  | { kind: 'expired'; rejection: CallbackRejection | null };

export interface ExpectedCallback {
  /** Resolves when the runbook's signed callback arrives, or when `deadline` aborts. */
  wait(deadline: AbortSignal): Promise<CallbackWait>;
  /** Stops waiting: a callback from now on is for an unknown remediation. */
  cancel(): void;
}

interface Waiter {
  webhook: Webhook;
  settle: (outcome: FinalOutcome) => void;
  rejection: CallbackRejection | null;
}

/**
 * The runbook calls this executor waits for, by remediation id. The driver registers a call
 * before it sends the request (a callback may come before the 202 is read); the callback
 * controller hands each callback here. A callback counts only when signed with the secret of
 * the very call that waits for it; one that is not is refused and does not end the wait, so
 * whoever learns a remediation id can neither fake its outcome nor cut it short.
 */
@Injectable()
export class RunbookCallbacks {
  private readonly pending = new Map<string, Waiter>();

  expect(remediationId: string, webhook: Webhook): ExpectedCallback {
    let settle: Waiter['settle'] = () => undefined;
    const arrived = new Promise<FinalOutcome>((resolve) => {
      settle = resolve;
    });
    const waiter: Waiter = { webhook, settle, rejection: null };
    this.pending.set(remediationId, waiter);
    return {
      wait: (deadline) =>
        new Promise<CallbackWait>((resolve) => {
          const expire = () => resolve({ kind: 'expired', rejection: waiter.rejection });
          if (deadline.aborted) return expire();
          deadline.addEventListener('abort', expire, { once: true });
          void arrived.then((outcome) => {
            deadline.removeEventListener('abort', expire);
            resolve({ kind: 'arrived', outcome });
          });
        }),
      cancel: () => {
        if (this.pending.get(remediationId) === waiter) this.pending.delete(remediationId);
      },
    };
  }

  deliver(remediationId: string, body: string, headers: Record<string, string | undefined>): CallbackVerdict {
    const waiter = this.pending.get(remediationId);
    if (!waiter) return { kind: 'unknown_remediation' };
    const verdict = verifySigned(waiter.webhook, body, headers, remediationId);
    if (!verdict.ok) {
      waiter.rejection = verdict;
      log.warn({ remediationId, reason: verdict.reason, detail: verdict.detail }, 'runbook callback refused: not signed by the runbook');
      return { kind: 'unattributed', rejection: verdict };
    }
    const outcome = interpretCallback(body);
    this.pending.delete(remediationId);
    waiter.settle(outcome);
    return outcome.kind === 'invalid' ? { kind: 'invalid', detail: outcome.detail } : { kind: 'accepted' };
  }

  /** How many calls wait for a callback (for tests and metrics). */
  get waiting(): number {
    return this.pending.size;
  }
}
