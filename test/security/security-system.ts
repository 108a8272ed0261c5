/**
 * The whole system as processes (tools/dev/system.js, as `npm start` runs it) on a real
 * nats-server and Postgres, for the security suites: one tenant, a few demo instances, and
 * what an attacker or an auditor looks at — the agent's pids, the executor's rows, the
 * tenant's audit trail and the dead-letter stream.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Client } from 'pg';
import { subjectFor, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { ensureDevKeySet, KEY_ID_HEADER, loadSigningKey, SIGNATURE_HEADER, signEventPayload, type Identity, type SigningKey } from '@autoheal/security';
import { createTestDatabase, expectEventually, freePort, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { startSystem, type RunningSystem } from '../../tools/dev/system.js';

export const TENANT = 'sec';
export const OPS_KEY = 'ops_security_e2e_0123456789';
const IDENTITIES: Identity[] = ['auditor', 'detector', 'decision', 'executor', 'agent:demo-fleet'];

export interface AuditRow {
  eventId: string;
  eventType: string;
  actor: string;
  action: string;
  outcome: string;
  source: string;
  payload: Record<string, unknown> & { data?: Record<string, unknown> };
}

export interface AgentInstance {
  tenantId: string;
  service: string;
  instance: string;
  pid?: number;
  state: string;
  restarts: number;
}

export interface SecuritySystem {
  nc: NatsConnection;
  system: RunningSystem;
  pg: Client;
  /** The private keys the services run with (an insider's view: what a forger does not have). */
  key(identity: Identity | 'agent:rogue'): SigningKey;
  agentStatus(): Promise<AgentInstance[]>;
  pidOf(instance: string): Promise<number | undefined>;
  audit(query?: string): Promise<AuditRow[]>;
  deadLetters(): Promise<DeadLetterRecord[]>;
  executions(remediationId: string): Promise<{ status: string; result: unknown }[]>;
  /** Publishes `event` on its subject with exactly these header values (none: unsigned). */
  publish(event: Envelope, sign?: { key: SigningKey; bytes?: Uint8Array }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts it. The trust file the services use also lists `agent:rogue`: a key the system trusts
 * as some other agent, which the executor must still not accept for this tenant's targets.
 */
export async function startSecuritySystem(instances: string[]): Promise<SecuritySystem> {
  const nats: NatsServerHandle = await startNatsServer();
  const db: TestDatabase = await createTestDatabase();
  const stateDir = mkdtempSync(join(tmpdir(), 'autoheal-security-'));
  const keysDir = join(stateDir, 'keys');
  const withRogue = ensureDevKeySet(keysDir, [...IDENTITIES, 'agent:rogue']);
  const trustFile = join(stateDir, 'trust-with-rogue.json');
  copyFileSync(withRogue.trustFile, trustFile);
  const fleetFile = join(stateDir, 'fleet.json');
  writeFileSync(
    fleetFile,
    JSON.stringify({
      tenants: [{ tenantId: TENANT, displayName: 'Security', frameworks: ['SOC2'], maxAutoActionsPerHour: 50, autoActions: ['restart'], services: [{ service: 'api', instances }] }],
    }),
  );
  const ports = { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() };
  const system = await startSystem({
    natsUrl: nats.url,
    databaseUrl: db.url,
    stateDir,
    fleetFile,
    ports,
    restartOnExit: false,
    env: {
      AUTOHEAL_TRUST_FILE: trustFile,
      HEARTBEAT_MS: '200',
      FLEET_BASE_PORT: '0',
      DETECTOR_MISSED_INTERVALS: '10',
      DECISION_BREAKER_MIN_INSTANCES: '1000',
      AUDITOR_OPS_API_KEY: OPS_KEY,
      LOG_LEVEL: 'info',
    },
  });
  await system.waitHealthy(60_000);
  const nc = await connect({ servers: nats.url, name: 'security-e2e' });
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const keys = new Map<string, SigningKey>([...IDENTITIES, 'agent:rogue'].map((id) => [id, loadSigningKey(withRogue.keyFiles[id])]));
  const auditorUrl = `http://127.0.0.1:${ports.auditor}`;

  const agentStatus = async (): Promise<AgentInstance[]> => (await nc.request('agent.status', new Uint8Array(), { timeout: 5_000 })).json<AgentInstance[]>();
  await expectEventually(async () => {
    const status = await agentStatus();
    expect(status.filter((i) => i.state !== 'running')).toEqual([]);
    expect(status).toHaveLength(instances.length);
  }, { timeoutMs: 30_000 });

  return {
    nc,
    system,
    pg,
    key(identity) {
      const key = keys.get(identity);
      if (!key) throw new Error(`no key for ${identity}`);
      return key;
    },
    agentStatus,
    async pidOf(instance) {
      return (await agentStatus()).find((i) => i.instance === instance)?.pid;
    },
    async audit(query = '') {
      const res = await fetch(`${auditorUrl}/v1/tenants/${TENANT}/audit?limit=500${query}`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
      if (res.status !== 200) throw new Error(`audit answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { items: AuditRow[] }).items;
    },
    deadLetters: () => readStream<DeadLetterRecord>(nc, 'DEAD_LETTER'),
    async executions(remediationId) {
      return (await pg.query<{ status: string; result: unknown }>('SELECT status, result FROM executor.executions WHERE remediation_id = $1', [remediationId])).rows;
    },
    async publish(event, sign) {
      const bytes = new TextEncoder().encode(JSON.stringify(event));
      const h = natsHeaders();
      if (sign) {
        const signed = signEventPayload(sign.key, sign.bytes ?? bytes);
        h.set(SIGNATURE_HEADER, signed.signature);
        h.set(KEY_ID_HEADER, signed.keyId);
      }
      await jetstream(nc).publish(subjectFor(event), bytes, { headers: h, msgID: event.id });
    },
    async stop() {
      await system.stop();
      await nc.drain();
      await pg.end();
      await nats.stop();
      await db.drop();
    },
  };
}
