import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { AGENT_CHAOS_SUBJECT, AGENT_STATUS_SUBJECT, type AgentChaosReply, type AgentInstanceStatus, type ChaosAction } from '@autoheal/contracts';
import { natsCredentialOptions } from '@autoheal/sdk';
import { CliError, CliErrorCode } from './cli.errors.js';
import { table } from './format.js';

/*
 * The demo's chaos: asks the host agent (apps/agent) over NATS, as the chaos identity, to break
 * one of the demo API servers it runs, or for their status. Only the demo's agents answer.
 */

export interface NatsTarget {
  url: string;
  seedFile?: string;
  caFile?: string;
}

/** NATS_URL and the credentials from the environment, else those of the server `npm start` runs from this folder. */
export function natsTargetFrom(env: Record<string, string | undefined>): NatsTarget {
  if (env.NATS_URL) return { url: env.NATS_URL, seedFile: env.NATS_NKEY_SEED_FILE, caFile: env.NATS_TLS_CA_FILE };
  const dir = join('.autoheal', 'nats');
  return { url: `tls://127.0.0.1:${env.AUTOHEAL_NATS_PORT ?? '4322'}`, seedFile: join(dir, 'seeds', 'chaos.nk'), caFile: join(dir, 'ca.pem') };
}

export type ChaosRequest = { action: ChaosAction; tenantId: string; service: string; instance: string; release?: string };

type Request = (subject: string, body: string, timeoutMs: number) => Promise<unknown>;
/** Every answer to one request, gathered until none has come for `stallMs` (or `maxWaitMs` in all). */
type Gather = (subject: string, body: string, stallMs: number, maxWaitMs: number) => Promise<unknown[]>;

async function withAgent<T>(target: NatsTarget, work: (request: Request, gather: Gather) => Promise<T>): Promise<T> {
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({ ...natsCredentialOptions({ nkeySeedFile: target.seedFile, tlsCaFile: target.caFile }), servers: target.url, name: 'autoheal-cli-demo', maxReconnectAttempts: 0 });
  } catch (error) {
    throw new CliError(CliErrorCode.Unreachable, `cannot reach the NATS server at ${target.url} (${(error as Error).message}); is npm start running, or NATS_URL set?`);
  }
  try {
    const noAgent = (subject: string, error: unknown) =>
      // no responders / timeout: most likely no agent is running.
      new CliError(CliErrorCode.Unreachable, `the demo's agent did not answer on ${subject} (${(error as Error).message}); is npm start running its demo fleet?`);
    return await work(
      async (subject, body, timeoutMs) => {
        try {
          return (await nc.request(subject, body, { timeout: timeoutMs })).json<unknown>();
        } catch (error) {
          throw noAgent(subject, error);
        }
      },
      async (subject, body, stallMs, maxWaitMs) => {
        const answers: unknown[] = [];
        try {
          for await (const reply of await nc.requestMany(subject, body, { strategy: 'stall', stall: stallMs, maxWait: maxWaitMs })) answers.push(reply.json<unknown>());
        } catch (error) {
          throw noAgent(subject, error);
        }
        if (answers.length === 0) throw noAgent(subject, new Error('no answer'));
        return answers;
      },
    );
  } finally {
    await nc.close();
  }
}

/** Every instance the demo's agents run: each agent answers with its own (the demo runs several). */
export function chaosStatus(target: NatsTarget): Promise<AgentInstanceStatus[]> {
  return withAgent(target, async (_request, gather) => ((await gather(AGENT_STATUS_SUBJECT, '', 500, 5_000)) as AgentInstanceStatus[][]).flat());
}

export function chaos(target: NatsTarget, body: ChaosRequest): Promise<AgentChaosReply> {
  return withAgent(target, async (request) => (await request(AGENT_CHAOS_SUBJECT, JSON.stringify(body), 15_000)) as AgentChaosReply);
}

export function formatChaosStatus(instances: AgentInstanceStatus[]): string[] {
  if (instances.length === 0) return ['the agent runs no instance'];
  return table(
    ['TENANT', 'SERVICE', 'INSTANCE', 'STATE', 'RELEASE', 'DEGRADED', 'PID', 'PORT', 'RESTARTS', 'LAST REMEDIATION'],
    instances.map((s) => [
      s.tenantId,
      s.service,
      s.instance,
      s.state,
      s.release,
      s.degradation ?? '-',
      s.pid === null ? '-' : String(s.pid),
      String(s.port),
      String(s.restarts),
      s.lastRestartRemediationId ?? '-',
    ]),
  );
}

export function formatChaosReply(request: ChaosRequest, reply: AgentChaosReply): string[] {
  const target = `${request.tenantId} ${request.service} ${request.instance}`;
  if (!reply.ok) return [`${request.action} ${target}: refused (${reply.code}): ${reply.message}`];
  return [`${request.action} ${target}: done`, ...formatChaosStatus([reply.instance])];
}
