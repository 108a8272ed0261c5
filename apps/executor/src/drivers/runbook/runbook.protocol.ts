// What travels between the executor and a tenant's runbook, and how each side proves it wrote
// it: Standard Webhooks (https://www.standardwebhooks.com/) signatures, HMAC-SHA256 over
// `<webhook-id>.<webhook-timestamp>.<body>` under the secret the target's `secretRef` names.
// Plain functions over data, so the rules can be read (and tested) without HTTP.
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import { actionParameters, remediationAction } from '@autoheal/contracts';
import { DRIVER_EFFECT_VERBS } from '../remediation-driver.js';

export const WEBHOOK_ID = 'webhook-id';
export const WEBHOOK_TIMESTAMP = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE = 'webhook-signature';

/** Largest answer or callback body read: a runbook's answer is a few effects, not a log. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** What the executor POSTs to `runtime.url`. Signed with `webhook-id` = `remediationId`. */
export const runbookRequest = z
  .object({
    type: z.literal('autoheal.remediation'),
    remediationId: z.uuid(),
    tenantId: z.string().min(1),
    service: z.string().min(1),
    instance: z.string().min(1),
    action: remediationAction,
    parameters: actionParameters,
    /** Where to POST the outcome after answering 202. */
    callbackUrl: z.url(),
    /** The executor stops waiting then (RFC 3339). */
    deadline: z.iso.datetime(),
  })
  .strict();
export type RunbookRequest = z.infer<typeof runbookRequest>;

const effect = z
  .object({
    verb: z.enum(DRIVER_EFFECT_VERBS),
    object: z.string().min(1).max(300),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** Unknown fields are ignored (a runbook may say more than we read); known ones must be right. */
const done = z.object({
  status: z.literal('done'),
  /** What the runbook changed, in order, in the drivers' vocabulary: at least one. */
  effects: z.array(effect).min(1).max(100),
  /** It had carried this remediation out before (same webhook-id) and did nothing now. */
  replayed: z.boolean().optional(),
});
const failed = z.object({
  status: z.literal('failed'),
  /** Goes into remediation.failed and metrics: short, no spaces. */
  code: z
    .string()
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'must be a short code: letters, digits, _ . : -'),
  /** Kept to its first 1000 characters. */
  message: z.string().transform((m) => m.slice(0, 1_000)),
});
const accepted = z.object({ status: z.literal('accepted') });

const syncAnswerBody = z.discriminatedUnion('status', [done, failed, accepted]);
/** A callback carries the final word: done or failed. */
export const runbookCallbackBody = z.discriminatedUnion('status', [done, failed]);
export type RunbookCallbackBody = z.infer<typeof runbookCallbackBody>;

/** What a runbook's answer (or callback) comes to. */
export type RunbookOutcome =
  | { kind: 'done'; effects: z.infer<typeof effect>[]; replayed: boolean }
  | { kind: 'failed'; code: string; message: string }
  /** 202: it will call back. */
  | { kind: 'accepted' }
  /** Signed, but not what the protocol allows: `detail` names the field. */
  | { kind: 'invalid'; detail: string };

/** What a callback may say: anything but "accepted". */
export type FinalOutcome = Exclude<RunbookOutcome, { kind: 'accepted' }>;

/** A secret as Standard Webhooks defines it: `whsec_` + base64 of 24 to 64 random bytes. */
export function parseRunbookSecret(value: string): { ok: true; webhook: Webhook } | { ok: false; problem: string } {
  if (!value.startsWith('whsec_')) return { ok: false, problem: 'does not start with whsec_' };
  const encoded = value.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return { ok: false, problem: 'is not base64 after whsec_' };
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < 24 || bytes > 64) return { ok: false, problem: `holds ${bytes} bytes, not 24 to 64` };
  return { ok: true, webhook: new Webhook(value) };
}

/** The three Standard Webhooks headers for `body`, sent as `id` at `at`. */
export function signedHeaders(webhook: Webhook, id: string, at: Date, body: string): Record<string, string> {
  return {
    [WEBHOOK_ID]: id,
    [WEBHOOK_TIMESTAMP]: String(Math.floor(at.getTime() / 1000)),
    [WEBHOOK_SIGNATURE]: webhook.sign(id, at, body),
  };
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: 'unsigned' | 'bad_signature' | 'mismatched_reply'; detail: string };

/**
 * Whether `body` was signed under the secret, as message `expectedId`, within the library's
 * five-minute tolerance of now: the runbook signs its answers and callbacks with the
 * remediation id as `webhook-id`, so a signed word about one remediation cannot be passed
 * off as one about another.
 */
export function verifySigned(webhook: Webhook, body: string, headers: Record<string, string | undefined>, expectedId: string): SignatureVerdict {
  const id = headers[WEBHOOK_ID];
  const timestamp = headers[WEBHOOK_TIMESTAMP];
  const signature = headers[WEBHOOK_SIGNATURE];
  if (!id || !timestamp || !signature) {
    return { ok: false, reason: 'unsigned', detail: `missing ${[!id && WEBHOOK_ID, !timestamp && WEBHOOK_TIMESTAMP, !signature && WEBHOOK_SIGNATURE].filter(Boolean).join(', ')}` };
  }
  try {
    webhook.verify(body, { [WEBHOOK_ID]: id, [WEBHOOK_TIMESTAMP]: timestamp, [WEBHOOK_SIGNATURE]: signature }, { jsonParse: false });
  } catch (error) {
    if (error instanceof WebhookVerificationError) return { ok: false, reason: 'bad_signature', detail: error.message };
    throw error;
  }
  if (id !== expectedId) return { ok: false, reason: 'mismatched_reply', detail: `signed as ${id.slice(0, 100)}, not as remediation ${expectedId}` };
  return { ok: true };
}

/** Statuses that say "not now" (the runbook or a proxy in front of it): retried, whoever sent them. */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** What a signed synchronous answer says, by its status and body. */
export function interpretAnswer(status: number, text: string): RunbookOutcome {
  const body = parseJson(text);
  if (status === 404) {
    // Whatever else it says: the runbook does not know the target.
    const said = body.ok ? failed.safeParse(body.value) : null;
    return { kind: 'failed', code: 'unknown_target', message: said?.success ? said.data.message : 'the runbook does not know this target (404)' };
  }
  if (!body.ok) return { kind: 'invalid', detail: `(root): answer ${status} is not JSON: ${body.error}` };
  const parsed = syncAnswerBody.safeParse(body.value);
  if (!parsed.success) return { kind: 'invalid', detail: `answer ${status}: ${describeIssues(parsed.error)}` };
  const answer = parsed.data;
  const allowed: Record<typeof answer.status, (s: number) => boolean> = {
    done: (s) => s === 200,
    failed: (s) => s === 200 || (s >= 400 && s < 500),
    accepted: (s) => s === 202,
  };
  if (!allowed[answer.status](status)) return { kind: 'invalid', detail: `status: "${answer.status}" cannot come with HTTP ${status}` };
  return toOutcome(answer);
}

/** What a signed callback says. */
export function interpretCallback(text: string): FinalOutcome {
  const body = parseJson(text);
  if (!body.ok) return { kind: 'invalid', detail: `(root): callback is not JSON: ${body.error}` };
  const parsed = runbookCallbackBody.safeParse(body.value);
  if (!parsed.success) return { kind: 'invalid', detail: `callback: ${describeIssues(parsed.error)}` };
  return finalOutcome(parsed.data);
}

function toOutcome(answer: z.infer<typeof syncAnswerBody>): RunbookOutcome {
  return answer.status === 'accepted' ? { kind: 'accepted' } : finalOutcome(answer);
}

function finalOutcome(answer: RunbookCallbackBody): FinalOutcome {
  switch (answer.status) {
    case 'done':
      return { kind: 'done', effects: answer.effects, replayed: answer.replayed ?? false };
    case 'failed':
      return { kind: 'failed', code: answer.code, message: answer.message };
    default: {
      const unreachable: never = answer;
      throw new Error(`unhandled runbook answer ${JSON.stringify(unreachable)}`);
    }
  }
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
