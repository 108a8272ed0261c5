import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { AGENT_CHAOS_SUBJECT, agentCommandSubject, AGENT_STATUS_SUBJECT } from '@autoheal/contracts';
import type { AgentFailoverListener } from './config/agent-config.js';
import type { Logger } from './logger.js';
import type { ChaosService } from './chaos/chaos.service.js';
import type { InstanceRef } from './config/agent-config.js';
import type { FleetSupervisor } from './supervisor/fleet-supervisor.js';
import type { ReplySigner } from './commands/reply-signer.js';
import type { CommandService } from './commands/command.service.js';

/**
 * Agents form one queue group for commands and chaos, so each is answered once however many agents
 * listen. `agent.status` is not in it: every agent answers with its own instances, and a caller
 * wanting the whole fleet gathers the replies (`requestMany`).
 */
export const AGENT_QUEUE_GROUP = 'agents';

export interface AgentHandlerDeps {
  commands: CommandService;
  replies: ReplySigner;
  /** Absent: the agent does not answer agent.chaos (its config does not enable it). */
  chaos?: ChaosService;
  supervisor: FleetSupervisor;
  /** The armed switchover each instance's service holds now, for agent.status (null: none). */
  armOf?: (ref: InstanceRef) => { remediationId: string; expiresAt: string; heals: ('switch' | 'restart')[] } | null;
  logger: Logger;
  /** While true, commands are dropped unanswered (see RunningAgent.pause). */
  paused?: () => boolean;
}

/**
 * The agent's request/reply entry points: decode, delegate, reply (signed). It listens for the
 * commands of the instances of its config, one subject each: its NATS identity may subscribe
 * to those and no others (so an instance added by scale_out takes no commands of its own), and
 * for each service it keeps a standby of, that service's failovers into its region.
 */
export function serveAgentRequests(nc: NatsConnection, targets: readonly InstanceRef[], deps: AgentHandlerDeps, standbys: readonly AgentFailoverListener[] = []): Subscription[] {
  const { commands, replies, chaos, supervisor, armOf, logger, paused = () => false } = deps;
  const status = () => supervisor.status().map((s) => (armOf ? { ...s, armedSwitchover: armOf(s) } : s));
  const command = async (msg: Msg) => replies.sign(await commands.handle(msg.subject, decode(msg)));
  return [
    ...targets.map((t) => reply(nc, agentCommandSubject(t.tenantId, t.service, t.instance), logger, command, paused)),
    // The failovers of any instance of a service it keeps the standby of, into its own region only.
    ...standbys.map((s) => reply(nc, `agent.failover.${s.region}.${s.tenantId}.${s.service}.*`, logger, command, paused)),
    ...(chaos ? [reply(nc, AGENT_CHAOS_SUBJECT, logger, (msg) => chaos.handle(decode(msg)))] : []),
    reply(nc, AGENT_STATUS_SUBJECT, logger, () => Promise.resolve(status()), undefined, null),
  ];
}

/** A body that is not JSON is passed on as undefined, which every request schema rejects as invalid. */
function decode(msg: Msg): unknown {
  try {
    return msg.json();
  } catch {
    return undefined;
  }
}

function reply(nc: NatsConnection, subject: string, logger: Logger, handle: (msg: Msg) => Promise<unknown>, paused: () => boolean = () => false, queue: string | null = AGENT_QUEUE_GROUP): Subscription {
  return nc.subscribe(subject, {
    ...(queue ? { queue } : {}),
    callback: (error, msg) => {
      if (error) {
        logger.error({ err: error, subject }, 'subscription failed');
        return;
      }
      if (paused()) {
        logger.warn({ subject: msg.subject }, 'paused: request dropped unanswered');
        return;
      }
      handle(msg).then(
        (body) => {
          if (!msg.respond(JSON.stringify(body))) logger.warn({ subject: msg.subject }, 'request had no reply subject');
        },
        (cause: unknown) => {
          // A bug, not a domain outcome: say so rather than leave the caller to time out.
          logger.error({ err: cause, subject: msg.subject }, 'request handler failed');
          msg.respond(JSON.stringify({ ok: false, code: 'internal_error', message: String(cause) }));
        },
      );
    },
  });
}
