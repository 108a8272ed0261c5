/**
 * The whole system as processes (tools/dev/system.js, as `npm start` runs it) on a real
 * nats-server with TLS and NKey permissions and a real Postgres with the services' own roles,
 * for the security suites: one tenant, a few demo instances, and what an attacker or an auditor
 * looks at — the agent's pids, the executor's rows, the tenant's audit trail and the
 * dead-letter stream.
 *
 * The attackers here are insiders on the bus: each publishes or answers with the NATS
 * credentials of an identity the server lets do exactly that (the decision service's for a plan,
 * the executor's for a command, a second agent's for an answer), but without the private
 * signing key of the identity it pretends to be. What stops them is the signature, not the bus
 * (bus-permissions.e2e-spec.ts shows the bus stopping everyone else).
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Client } from 'pg';
import { subjectFor, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { closeNats, connectNats, identityName, natsDevServerSetup, systemIdentities, type NatsIdentity } from '@autoheal/messaging';
import { ensureDevKeySet, KEY_ID_HEADER, loadSigningKey, SIGNATURE_HEADER, signEventPayload, type Identity, type SigningKey } from '@autoheal/security';
import { createTestDatabase, expectEventually, freePort, readStream, startNatsServer, type TestDatabase } from '@autoheal/testing';
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
  lastRestartRemediationId?: string | null;
}

export interface SecuritySystem {
  /** The read-only operator's connection: reads streams, asks the demo agent for its status, publishes no event. */
  nc: NatsConnection;
  /**
   * A connection with the NATS credentials of `identity` (`decision`, `executor`, `agent:rogue`…):
   * what an insider holding those credentials, but not the identity's signing key, can send.
   */
  as(identity: string): Promise<NatsConnection>;
  system: RunningSystem;
  pg: Client;
  /** Where the auditor's REST API and the detector's HTTP ingest answer. */
  urls: { auditor: string; detector: string };
  /** The private keys the services run with (an insider's view: what a forger does not have). */
  key(identity: Identity | 'agent:rogue'): SigningKey;
  agentStatus(): Promise<AgentInstance[]>;
  pidOf(instance: string): Promise<number | undefined>;
  audit(query?: string): Promise<AuditRow[]>;
  deadLetters(): Promise<DeadLetterRecord[]>;
  executions(remediationId: string): Promise<{ status: string; result: unknown }[]>;
  /**
   * Publishes `event` on its subject with exactly these header values (none: unsigned), over the
   * NATS credentials of the service the bus lets publish it (see publisherOf).
   */
  publish(event: Envelope, sign?: { key: SigningKey; bytes?: Uint8Array }): Promise<void>;
  stop(): Promise<void>;
}

export interface SecuritySystemOptions {
  /** Instances only the rogue agent may receive commands for (the demo agent does not run them). */
  rogueOnlyTargets?: string[];
  /**
   * More tenants beside TENANT, each with instances of service `api` that the demo agent runs and
   * a producer identity of its own; `declaredOnly`: instances its inventory also declares that no
   * agent runs (a restart of one fails, so its incident stays open — what a real storm looks like).
   */
  tenants?: { tenantId: string; instances: string[]; declaredOnly?: string[] }[];
  /** Variables for every process, over the defaults here (ingest and tenant API keys, say). */
  env?: Record<string, string>;
}

/**
 * Starts it. The trust file the services use also lists `agent:rogue`: a key the system trusts
 * as some other agent, which the executor must still not accept for this tenant's targets.
 */
export async function startSecuritySystem(instances: string[], options: SecuritySystemOptions = {}): Promise<SecuritySystem> {
  const tenant = (tenantId: string, displayName: string, names: string[]) => ({
    tenantId,
    displayName,
    frameworks: ['SOC2'],
    maxAutoActionsPerHour: 50,
    autoActions: ['restart'],
    services: [{ service: 'api', instances: names }],
  });
  const fleet = { tenants: [tenant(TENANT, 'Security', instances), ...(options.tenants ?? []).map((t) => tenant(t.tenantId, t.tenantId, t.instances))] };
  const instanceCount = fleet.tenants.reduce((n, t) => n + t.services[0].instances.length, 0);
  // A second agent the server lets receive this tenant's commands too (a host misconfigured or
  // taken over): the bus would deliver to it; only the signature on its answers can tell. It may
  // also receive those of `rogueOnlyTargets`, instances the demo agent does not run.
  const rogueTargets = [...instances, ...(options.rogueOnlyTargets ?? [])].map((instance) => ({ tenantId: TENANT, service: 'api', instance }));
  const rogue: NatsIdentity = { kind: 'agent', agentId: 'rogue', targets: rogueTargets };
  const nats = await startNatsServer(natsDevServerSetup([...systemIdentities(fleet), rogue]));
  const secure = nats.secure;
  const db: TestDatabase = await createTestDatabase();
  const stateDir = mkdtempSync(join(tmpdir(), 'autoheal-security-'));
  const keysDir = join(stateDir, 'keys');
  const withRogue = ensureDevKeySet(keysDir, [...IDENTITIES, 'agent:rogue']);
  const trustFile = join(stateDir, 'trust-with-rogue.json');
  copyFileSync(withRogue.trustFile, trustFile);
  const fleetFile = join(stateDir, 'fleet.json');
  writeFileSync(fleetFile, JSON.stringify(fleet));
  // The decision service reads the tenants (and their inventories) from a file of its own when
  // some tenant declares instances the agent does not run.
  const declared = (options.tenants ?? []).some((t) => (t.declaredOnly ?? []).length > 0)
    ? {
        tenants: [
          tenant(TENANT, 'Security', instances),
          ...(options.tenants ?? []).map((t) => tenant(t.tenantId, t.tenantId, [...t.instances, ...(t.declaredOnly ?? [])])),
        ],
      }
    : undefined;
  const declaredFile = join(stateDir, 'declared-fleet.json');
  if (declared) writeFileSync(declaredFile, JSON.stringify(declared));
  const ports = { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() };
  const system = await startSystem({
    natsUrl: nats.url,
    natsCredentials: { caFile: secure.caFile, seedDir: join(secure.dir, 'seeds') },
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
      // Two whole systems may run at once against one Postgres (100 connections by default).
      DATABASE_POOL_MAX: '4',
      // A stalled detector marks its hangs as possible detector faults (escalated, not restarted);
      // a loaded CI machine must not turn that into failed attack checks.
      DETECTOR_OBSERVER_LATE_MS: '30000',
      AUDITOR_OPS_API_KEY: OPS_KEY,
      // The tests poll the audit API until a row appears: read limits are not what they measure.
      AUDITOR_READ_RATE_PER_MINUTE: '100000',
      AUDITOR_READ_BURST: '100000',
      LOG_LEVEL: 'info',
      ...(declared ? { DECISION_TENANTS_FILE: declaredFile } : {}),
      ...options.env,
    },
  });
  // A system that does not come up (a database out of connection slots on a busy machine) is
  // taken down again: left running, its processes would keep the test runner from exiting.
  const abandon = async (error: unknown): Promise<never> => {
    await system.stop().catch(() => undefined);
    await nats.stop().catch(() => undefined);
    await db.drop().catch(() => undefined);
    throw error;
  };
  await system.waitHealthy(60_000).catch(abandon);
  const connections = new Map<string, Promise<NatsConnection>>();
  const as = (identity: string): Promise<NatsConnection> => {
    let nc = connections.get(identity);
    if (!nc) {
      nc = connectNats({ servers: nats.url, ...secure.credentials(identity), name: `security-e2e-${identity}`, onClosedForGood: () => undefined });
      connections.set(identity, nc);
    }
    return nc;
  };
  const nc = await as(identityName({ kind: 'ops' }));
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const keys = new Map<string, SigningKey>([...IDENTITIES, 'agent:rogue'].map((id) => [id, loadSigningKey(withRogue.keyFiles[id])]));
  const auditorUrl = `http://127.0.0.1:${ports.auditor}`;

  const agentStatus = async (): Promise<AgentInstance[]> => (await nc.request('agent.status', new Uint8Array(), { timeout: 5_000 })).json<AgentInstance[]>();
  await expectEventually(async () => {
    const status = await agentStatus();
    expect(status.filter((i) => i.state !== 'running')).toEqual([]);
    expect(status).toHaveLength(instanceCount);
  }, { timeoutMs: 30_000 }).catch(async (error: unknown) => {
    for (const connection of connections.values()) await closeNats(await connection).catch(() => undefined);
    await pg.end().catch(() => undefined);
    return abandon(error);
  });

  return {
    nc,
    as,
    system,
    pg,
    urls: { auditor: auditorUrl, detector: `http://127.0.0.1:${ports.detector}` },
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
      await jetstream(await as(publisherOf(event.type))).publish(subjectFor(event), bytes, { headers: h, msgID: event.id });
    },
    async stop() {
      await system.stop();
      for (const connection of connections.values()) await closeNats(await connection);
      await pg.end();
      await nats.stop();
      await db.drop();
    },
  };
}

/** The service whose NATS credentials may publish events of this type (nats-permissions.ts). */
function publisherOf(type: string): string {
  if (type.startsWith('incident.')) return 'detector';
  if (/^remediation\.(started|succeeded|failed|rolled_back)$/.test(type)) return 'executor';
  return 'decision';
}
