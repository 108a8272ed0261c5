import { canonicalJson } from '@autoheal/contracts';
import { signBytes, verifyBytes, type SigningKey } from './keys.js';
import { trustedKey, type Identity, type TrustStore } from './trust-store.js';

const encoder = new TextEncoder();
/** Domain separation: a command signature can never pass as a reply's or an event's, nor the reverse. */
const COMMAND_CONTEXT = 'autoheal-command-v1\n';
const REPLY_CONTEXT = 'autoheal-reply-v1\n';

/** The instance a command is aimed at. */
export interface CommandTarget {
  tenantId: string;
  service: string;
  instance: string;
}

/** What the executor signs: everything that decides what the command does, and when it may. */
export interface CommandContent extends CommandTarget {
  /** Unique per command (a retry of the same remediation is a new command). */
  commandId: string;
  remediationId: string;
  action: string;
  parameters: Record<string, unknown>;
  /** RFC 3339 UTC. */
  issuedAt: string;
  expiresAt: string;
}

export interface SignedCommand extends CommandContent {
  keyId: string;
  /** Ed25519, base64, over COMMAND_CONTEXT + canonical JSON of every other field (key id included). */
  signature: string;
}

function commandBytes(command: Omit<SignedCommand, 'signature'>): Uint8Array {
  const { commandId, remediationId, tenantId, service, instance, action, parameters, issuedAt, expiresAt, keyId } = command;
  return encoder.encode(COMMAND_CONTEXT + canonicalJson({ commandId, remediationId, tenantId, service, instance, action, parameters, issuedAt, expiresAt, keyId }));
}

export function signCommand(key: SigningKey, content: CommandContent): SignedCommand {
  const unsigned = { ...content, keyId: key.keyId };
  return { ...unsigned, signature: signBytes(key, commandBytes(unsigned)) };
}

/** A command's content apart from its timing and id: what the first command for a remediation binds. */
export function commandIntent(command: CommandContent): string {
  const { remediationId, tenantId, service, instance, action, parameters } = command;
  return canonicalJson({ remediationId, tenantId, service, instance, action, parameters });
}

export type CommandRejectionReason =
  | 'unsigned'
  | 'unknown_key'
  | 'key_not_yet_valid'
  | 'key_expired'
  | 'bad_signature'
  | 'not_entitled'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'target_mismatch'
  | 'unknown_target'
  | 'replayed';

export type CommandVerdict = { ok: true } | { ok: false; reason: CommandRejectionReason; detail: string };

export interface CommandCheck {
  now: Date;
  /** The target the subject the command arrived on names. */
  subjectTarget: CommandTarget;
  /** Whether this agent runs the target. */
  runs: (target: CommandTarget) => boolean;
  /** Clock difference tolerated between executor and agent. */
  maxSkewMs: number;
  /** Longest expiresAt − issuedAt accepted: a stolen command is useless soon, whatever its signer asked. */
  maxLifetimeMs: number;
}

/** The identity entitled to send commands to targets. */
export const COMMAND_ISSUER: Identity = 'executor';

/**
 * Everything about a command that can be judged from the command alone: signature by a
 * trusted executor key, freshness, and that it is aimed at what it arrived for and this agent
 * runs. Replays are the ledger's to judge (CommandLedger), after this passes.
 */
export function verifyCommand(store: TrustStore, command: Partial<SignedCommand>, check: CommandCheck): CommandVerdict {
  if (!command.signature || !command.keyId) return { ok: false, reason: 'unsigned', detail: 'command carries no signature' };
  const lookup = trustedKey(store, command.keyId, check.now);
  if (!lookup.ok) return { ok: false, reason: lookup.reason, detail: lookup.detail };
  if (!verifyBytes(lookup.key.publicKey, commandBytes(command as SignedCommand), command.signature)) {
    return { ok: false, reason: 'bad_signature', detail: `signature does not match the command for key ${command.keyId}` };
  }
  if (lookup.key.identity !== COMMAND_ISSUER) return { ok: false, reason: 'not_entitled', detail: `${lookup.key.identity} may not send commands to targets` };
  const issued = Date.parse(command.issuedAt ?? '');
  const expires = Date.parse(command.expiresAt ?? '');
  const now = check.now.getTime();
  if (Number.isNaN(issued) || Number.isNaN(expires)) return { ok: false, reason: 'expired', detail: 'command has no valid issuedAt/expiresAt' };
  if (expires - issued > check.maxLifetimeMs) return { ok: false, reason: 'lifetime_too_long', detail: `command valid for ${expires - issued} ms, at most ${check.maxLifetimeMs} accepted` };
  if (now > expires + check.maxSkewMs) return { ok: false, reason: 'expired', detail: `command expired at ${command.expiresAt}` };
  if (issued > now + check.maxSkewMs) return { ok: false, reason: 'not_yet_valid', detail: `command issued in the future (${command.issuedAt})` };
  const { tenantId, service, instance } = command as SignedCommand;
  const s = check.subjectTarget;
  if (tenantId !== s.tenantId || service !== s.service || instance !== s.instance) {
    return { ok: false, reason: 'target_mismatch', detail: `command for ${tenantId}/${service}/${instance} arrived for ${s.tenantId}/${s.service}/${s.instance}` };
  }
  if (!check.runs({ tenantId, service, instance })) return { ok: false, reason: 'unknown_target', detail: `this agent does not run ${tenantId}/${service}/${instance}` };
  return { ok: true };
}

/**
 * What an agent remembers of the commands it accepted, to refuse replays: a command id seen
 * before with other content, and a remediation whose first command asked for something else.
 * The same command again (a redelivery) passes — the remediation id makes its effect once.
 * Entries are kept at least as long as a command can be valid, then forgotten oldest first.
 */
export class CommandLedger {
  private readonly byCommand = new Map<string, { signature: string; at: number }>();
  private readonly byRemediation = new Map<string, { intent: string; at: number }>();

  constructor(private readonly retainMs: number, private readonly maxEntries = 100_000) {}

  /** Checks and, when accepted, records. */
  admit(command: SignedCommand, now: Date): CommandVerdict {
    const seen = this.byCommand.get(command.commandId);
    if (seen && seen.signature !== command.signature) return { ok: false, reason: 'replayed', detail: `command id ${command.commandId} was used before for another command` };
    const intent = commandIntent(command);
    const first = this.byRemediation.get(command.remediationId);
    if (first && first.intent !== intent) {
      return { ok: false, reason: 'replayed', detail: `remediation ${command.remediationId} was first asked for something else; this command differs` };
    }
    const at = now.getTime();
    if (!seen) this.byCommand.set(command.commandId, { signature: command.signature, at });
    if (!first) this.byRemediation.set(command.remediationId, { intent, at });
    this.prune(at);
    return { ok: true };
  }

  private prune(now: number): void {
    for (const map of [this.byCommand, this.byRemediation] as Map<string, { at: number }>[]) {
      for (const [key, value] of map) {
        if (now - value.at <= this.retainMs && map.size <= this.maxEntries) break;
        map.delete(key);
      }
    }
  }
}

/** What an agent signs in its reply. `commandId` is null only for a request too broken to carry one. */
export interface ReplyContent {
  ok: boolean;
  remediationId: string;
  commandId: string | null;
  agentId: string;
  signedAt: string;
  [field: string]: unknown;
}

export interface SignedReply extends ReplyContent {
  keyId: string;
  signature: string;
}

function replyBytes(reply: Record<string, unknown>): Uint8Array {
  const { signature: _signature, ...rest } = reply;
  return encoder.encode(REPLY_CONTEXT + canonicalJson(rest));
}

export function signReply<T extends ReplyContent>(key: SigningKey, reply: T): T & { keyId: string; signature: string } {
  const unsigned = { ...reply, keyId: key.keyId };
  return { ...unsigned, signature: signBytes(key, replyBytes(unsigned)) };
}

export type ReplyRejectionReason = 'unsigned' | 'unknown_key' | 'key_not_yet_valid' | 'key_expired' | 'bad_signature' | 'wrong_agent' | 'mismatched_reply';

export type ReplyVerdict = { ok: true } | { ok: false; reason: ReplyRejectionReason; detail: string };

/**
 * A reply counts only when signed by a key the store trusts now whose identity is the agent
 * registered for the target, and it answers this very command.
 */
export function verifyReply(
  store: TrustStore,
  reply: Partial<SignedReply>,
  expected: { identity: Identity; remediationId: string; commandId: string },
  now: Date,
): ReplyVerdict {
  if (!reply.signature || !reply.keyId) return { ok: false, reason: 'unsigned', detail: 'reply carries no signature' };
  const lookup = trustedKey(store, reply.keyId, now);
  if (!lookup.ok) return { ok: false, reason: lookup.reason, detail: lookup.detail };
  if (!verifyBytes(lookup.key.publicKey, replyBytes(reply), reply.signature)) {
    return { ok: false, reason: 'bad_signature', detail: `signature does not match the reply for key ${reply.keyId}` };
  }
  if (lookup.key.identity !== expected.identity || reply.agentId === undefined || `agent:${reply.agentId}` !== expected.identity) {
    return { ok: false, reason: 'wrong_agent', detail: `reply signed by ${lookup.key.identity} (says agent ${String(reply.agentId)}); ${expected.identity} runs this target` };
  }
  if (reply.remediationId !== expected.remediationId || reply.commandId !== expected.commandId) {
    return { ok: false, reason: 'mismatched_reply', detail: `reply is for remediation ${String(reply.remediationId)} / command ${String(reply.commandId)}` };
  }
  return { ok: true };
}
