import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { AGENT_CHAOS_SUBJECT, AGENT_STATUS_SUBJECT, CHAOS_ACTIONS, type AgentChaosReply, type AgentInstanceStatus as InstanceStatus, type ChaosAction } from '@autoheal/contracts';
import { natsCredentialOptions } from '@autoheal/sdk';
import { DEFAULT_DEGRADATION_SETTINGS as DEGRADE } from './api-server/degradation.js';

const USAGE = `usage: chaos <kill|hang|errors|slow|leak|resume> <tenant> <service> <instance>
       chaos release <tenant> <service> <instance> <version>
       chaos status

  kill     SIGKILL the instance; it stays down until autoheal restarts it  -> crashed
  hang     SIGSTOP it; it keeps its port, stops answering and heartbeating -> heartbeat_missed
  errors   it answers ${DEGRADE.errorShare * 100} % of its requests with 500                        -> error_rate
  slow     it answers every request ${DEGRADE.slowMs} ms late                            -> anomaly (latency)
  leak     it retains ${DEGRADE.leakBytesPerSecond / 1024 / 1024} MiB of memory a second, up to its limit            -> predicted (memory)
  resume   SIGCONT a hung instance, and stop errors, slow or leak
  release  restart it on another release of its service (fleet file); a release whose env sets
           DEMO_FAULT=errors is a bad deploy: a restart keeps it, a rollback clears it -> error_rate
  status   list every instance the demo's agents run

A restart (autoheal's) clears the first five: the new process starts healthy.

NATS_URL selects the server, NATS_NKEY_SEED_FILE and NATS_TLS_CA_FILE the chaos identity's seed and the
server's CA. Without NATS_URL: the server npm start runs (tls://127.0.0.1:$AUTOHEAL_NATS_PORT, default 4322,
with .autoheal/nats/seeds/chaos.nk and .autoheal/nats/ca.pem).`;

/** NATS_URL and the credentials from the environment, else those of the server `npm start` runs from this folder. */
function natsEnv(env: NodeJS.ProcessEnv): { url: string; seedFile?: string; caFile?: string } {
  if (env.NATS_URL) return { url: env.NATS_URL, seedFile: env.NATS_NKEY_SEED_FILE, caFile: env.NATS_TLS_CA_FILE };
  const dir = join('.autoheal', 'nats');
  return { url: `tls://127.0.0.1:${env.AUTOHEAL_NATS_PORT ?? '4322'}`, seedFile: join(dir, 'seeds', 'chaos.nk'), caFile: join(dir, 'ca.pem') };
}

async function main(argv: string[]): Promise<number> {
  const [command, tenantId, service, instance, release] = argv;
  const isAction = (CHAOS_ACTIONS as readonly string[]).includes(command);
  const complete = Boolean(tenantId && service && instance) && (command === 'release') === Boolean(release);
  if (command !== 'status' && !(isAction && complete)) {
    console.error(USAGE);
    return 2;
  }
  const nats = natsEnv(process.env);
  const nc = await connect({
    ...natsCredentialOptions({ nkeySeedFile: nats.seedFile, tlsCaFile: nats.caFile }),
    servers: nats.url,
    name: 'demo-fleet-chaos',
  });
  try {
    if (command === 'status') {
      // Every agent answers with its own instances (the demo runs several): gathered until none has come for half a second.
      const replies = await nc.requestMany(AGENT_STATUS_SUBJECT, '', { strategy: 'stall', stall: 500, maxWait: 5_000 });
      const all: InstanceStatus[] = [];
      for await (const reply of replies) all.push(...reply.json<InstanceStatus[]>());
      printStatus(all);
      return 0;
    }
    const body = { action: command as ChaosAction, tenantId, service, instance, ...(release ? { release } : {}) };
    const reply = (await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify(body), { timeout: 15_000 })).json<AgentChaosReply>();
    console.log(JSON.stringify(reply, null, 2));
    return reply.ok ? 0 : 1;
  } finally {
    await nc.close();
  }
}

function printStatus(instances: InstanceStatus[]): void {
  const rows = instances.map((s) => [
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
  ]);
  const header = ['TENANT', 'SERVICE', 'INSTANCE', 'STATE', 'RELEASE', 'DEGRADED', 'PID', 'PORT', 'RESTARTS', 'LAST REMEDIATION'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // no responders / timeout: most likely no agent is running.
    console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
