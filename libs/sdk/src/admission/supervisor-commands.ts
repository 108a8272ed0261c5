import { InvalidThrottleError } from './admission.errors.js';
import type { AdmissionGate } from './admission-gate.js';
import {
  fieldIssues,
  remediationIdSchema,
  SUPERVISOR_COMMAND_TYPES,
  supervisorCommand,
  type SupervisorCommand,
  type SupervisorThrottleAck,
} from './throttle.schema.js';

type MessageListener = (message: unknown) => void;

/**
 * The IPC channel to the process that spawned this one: `process` itself in a child started with
 * an `ipc` stdio entry (`fork`, or `spawn` with `stdio: [..., 'ipc']`). Typed structurally so a
 * test or another transport can stand in.
 */
export interface SupervisorChannel {
  on(event: 'message', listener: MessageListener): unknown;
  off(event: 'message', listener: MessageListener): unknown;
  /**
   * Node's `process.send(message, sendHandle, options, callback)`; absent when the process has no
   * IPC channel (then commands are applied but not answered).
   */
  send?(message: unknown, sendHandle: undefined, options: undefined, callback: (error: Error | null) => void): boolean;
}

/**
 * Applies the supervisor's `autoheal.throttle` and `autoheal.throttle.clear` messages to `gate` and
 * answers each with an `autoheal.throttle.ack`. Every other message is left alone (the application
 * may use the channel for its own). A command is validated strictly (unknown fields, a limit that
 * is not a positive finite number, an expiry in the past or more than 24 h ahead are refused) and a
 * refused command changes nothing. Only the parent process can write on the IPC channel, so the
 * channel itself says who sent a command; nothing else is checked.
 *
 * Returns the function that stops listening. While it listens, Node keeps the IPC channel (and so
 * the process) alive, as for any `message` listener.
 */
export function acceptSupervisorCommands(gate: AdmissionGate, channel: SupervisorChannel = process): () => void {
  const listener: MessageListener = (message) => {
    if (!isSupervisorCommandType(message)) return;
    const ack = applySupervisorMessage(gate, message);
    // A channel closed since the message arrived: the supervisor is gone and nobody waits for the ack.
    // The callback keeps Node from turning that into an 'error' event on the process.
    channel.send?.(ack, undefined, undefined, () => undefined);
  };
  channel.on('message', listener);
  return () => void channel.off('message', listener);
}

/** Validates one supervisor message and applies it to the gate; the acknowledgement to send back. */
export function applySupervisorMessage(gate: AdmissionGate, message: unknown): SupervisorThrottleAck {
  const parsed = supervisorCommand.safeParse(message);
  if (!parsed.success) {
    const error = fieldIssues(parsed.error)
      .map((issue) => `${issue.field}: ${issue.message}`)
      .join('; ');
    return { type: 'autoheal.throttle.ack', remediationId: validRemediationId(message), ok: false, error };
  }
  try {
    return { type: 'autoheal.throttle.ack', remediationId: parsed.data.remediationId, ok: true, appliedUntil: apply(gate, parsed.data) };
  } catch (error) {
    if (!(error instanceof InvalidThrottleError)) throw error;
    return { type: 'autoheal.throttle.ack', remediationId: parsed.data.remediationId, ok: false, error: error.message };
  }
}

/** The expiry now in force for the command's remediation, or null once it is lifted. */
function apply(gate: AdmissionGate, command: SupervisorCommand): string | null {
  switch (command.type) {
    case 'autoheal.throttle': {
      const { type: _type, ...throttle } = command;
      return gate.setThrottle(throttle).expiresAt;
    }
    case 'autoheal.throttle.clear':
      // Already expired, already cleared, or another remediation's throttle in force: either way
      // nothing of this remediation is in force afterwards.
      gate.clearThrottle(command.remediationId);
      return null;
  }
}

function isSupervisorCommandType(message: unknown): message is { type: string } {
  if (typeof message !== 'object' || message === null) return false;
  const type = (message as { type?: unknown }).type;
  return typeof type === 'string' && SUPERVISOR_COMMAND_TYPES.includes(type);
}

/** The refused command's remediation id when it carried a well-formed one, so the supervisor can match the ack. */
function validRemediationId(message: unknown): string | null {
  const id = (message as { remediationId?: unknown }).remediationId;
  const parsed = remediationIdSchema.safeParse(id);
  return parsed.success ? parsed.data : null;
}
