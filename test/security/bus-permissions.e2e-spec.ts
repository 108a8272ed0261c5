/**
 * Attacks on the bus with nothing but a NATS client, against the whole system running on a
 * nats-server 2.15 with TLS and NKey users (as npm start runs it). Each attack must be refused by
 * the server (the client sees the violation) and have no effect: nothing stored in a stream, no
 * incident, no restart (the demo agent's instance pids stay the same).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeys, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { newEvent, newEventId, type Envelope } from '@autoheal/contracts';
import { Kvm } from '@nats-io/kv';
import { API_KEYS_BUCKET, closeNats, connectNats, inboxPrefixFor, natsAuthOptions, natsDevServerSetup, systemIdentities, type SecureNatsMaterial } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, freePort, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { startSystem, type RunningSystem } from '../../tools/dev/system.js';

interface AgentInstance {
  tenantId: string;
  service: string;
  instance: string;
  pid: number | null;
  state: string;
}

const FLEET = {
  tenants: [
    { tenantId: 'sec-a', displayName: 'Sec A', frameworks: ['HIPAA'], maxAutoActionsPerHour: 50, autoActions: ['restart'], services: [{ service: 'api', instances: ['a-1', 'a-2'] }] },
    { tenantId: 'sec-b', displayName: 'Sec B', frameworks: ['GDPR'], maxAutoActionsPerHour: 50, autoActions: ['restart'], services: [{ service: 'api', instances: ['b-1'] }] },
  ],
};
const STREAM_NAMES = ['HEALTH', 'INCIDENTS', 'REMEDIATIONS', 'COMPLIANCE', 'DEAD_LETTER'];

/** A connection that records every error the server reports to it (permission violations). */
async function connectAs(nats: NatsServerHandle<SecureNatsMaterial>, identity: string): Promise<{ nc: NatsConnection; errors: string[] }> {
  const nc = await connectNats({ servers: nats.url, ...nats.secure.credentials(identity), name: `attacker-${identity}`, onClosedForGood: () => undefined });
  const errors: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error));
  })();
  return { nc, errors };
}

/** Speaks NATS in plain text to the TLS port: what the server sends before and after a plain CONNECT + PING. */
function plainTextAttempt(port: number): Promise<{ info: Record<string, unknown>; afterConnect: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    let buffer = '';
    let info: Record<string, unknown> | undefined;
    let after = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ info: info ?? {}, afterConnect: after, closedByServer: false });
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      if (info === undefined) {
        buffer += chunk.toString('latin1');
        const end = buffer.indexOf('\r\n');
        if (end < 0) return;
        info = JSON.parse(buffer.slice('INFO '.length, end)) as Record<string, unknown>;
        socket.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"plain"}\r\nPING\r\n');
      } else after += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (info === undefined) reject(new Error('no INFO from the server'));
      else resolve({ info, afterConnect: after, closedByServer: true });
    });
  });
}

describe('bus permissions under attack (TLS + NKey, whole system running)', () => {
  let nats: NatsServerHandle<SecureNatsMaterial>;
  let db: TestDatabase;
  let system: RunningSystem;
  let ops: NatsConnection;
  const open: NatsConnection[] = [];
  let pidsBefore: Record<string, number | null>;

  beforeAll(async () => {
    nats = await startNatsServer(
      natsDevServerSetup([
        ...systemIdentities(FLEET),
        // A second agent that runs only sec-b's instance: it must not see sec-a's commands.
        { kind: 'agent', agentId: 'other', targets: [{ tenantId: 'sec-b', service: 'api', instance: 'b-1' }] },
      ]),
    );
    db = await createTestDatabase();
    const stateDir = mkdtempSync(join(tmpdir(), 'autoheal-sec-'));
    const fleetFile = join(stateDir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(FLEET));
    const ports = { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() };
    system = await startSystem({
      natsUrl: nats.url,
      natsCredentials: { caFile: nats.secure.caFile, seedDir: join(nats.secure.dir, 'seeds') },
      databaseUrl: db.url,
      stateDir,
      fleetFile,
      ports,
      restartOnExit: false,
      env: { HEARTBEAT_MS: '200', FLEET_BASE_PORT: '0', DETECTOR_MISSED_INTERVALS: '10', DECISION_BREAKER_MIN_INSTANCES: '1000', DETECTOR_OBSERVER_LATE_MS: '30000', DATABASE_POOL_MAX: '4', LOG_LEVEL: 'warn' },
    });
    await system.waitHealthy(60_000);
    ops = await connectNats({ servers: nats.url, ...nats.secure.credentials('ops'), name: 'sec-observer', onClosedForGood: () => undefined });
    await expectEventually(async () => {
      const status = await agentStatus();
      expect(status.filter((i) => i.state !== 'running')).toEqual([]);
      expect(status).toHaveLength(3);
    }, { timeoutMs: 30_000 });
    pidsBefore = await pids();
  });

  afterAll(async () => {
    for (const nc of open) await closeNats(nc).catch(() => undefined);
    await system?.stop();
    if (ops) await closeNats(ops);
    await nats?.stop();
    await db?.drop();
  });

  async function agentStatus(): Promise<AgentInstance[]> {
    const reply = await ops.request('agent.status', new Uint8Array(), { timeout: 5000 });
    const body = reply.json<{ instances: AgentInstance[] } | AgentInstance[]>();
    return Array.isArray(body) ? body : body.instances;
  }

  async function pids(): Promise<Record<string, number | null>> {
    return Object.fromEntries((await agentStatus()).map((i) => [`${i.tenantId}/${i.instance}`, i.pid]));
  }

  /** Every stored message of every stream whose raw text contains `marker`. */
  async function storedWith(marker: string): Promise<string[]> {
    const found: string[] = [];
    for (const stream of STREAM_NAMES) {
      for (const m of await readStream<unknown>(ops, stream)) if (JSON.stringify(m).includes(marker)) found.push(`${stream}: ${JSON.stringify(m)}`);
    }
    return found;
  }

  async function attacker(identity: string) {
    const a = await connectAs(nats, identity);
    open.push(a.nc);
    return a;
  }

  it('a tenant producer cannot publish another tenant’s health, a control event or an agent command — refused, stored nowhere, nothing restarted', async () => {
    const { nc, errors } = await attacker('producer:sec-a');
    const marker = `forged-${newEventId()}`;
    const exited = newEvent('health.exited', {
      tenantId: 'sec-b',
      producer: marker,
      data: { service: 'api', instance: 'b-1', exitCode: 137, signal: 'SIGKILL', observedBy: 'agent' },
    });
    const forged: [string, unknown][] = [
      ['health.sec-b.api.b-1', exited],
      ['incident.sec-a.opened', { ...exited, type: 'incident.opened', tenantId: 'sec-a', id: newEventId() }],
      ['remediation.sec-a.planned', { ...exited, type: 'remediation.planned', tenantId: 'sec-a', id: newEventId() }],
      ['remediation.sec-a.approved', { ...exited, type: 'remediation.approved', tenantId: 'sec-a', id: newEventId() }],
      ['remediation.sec-a.succeeded', { ...exited, type: 'remediation.succeeded', tenantId: 'sec-a', id: newEventId() }],
      ['compliance.sec-a.policy_changed', { ...exited, type: 'compliance.policy_changed', tenantId: 'sec-a', id: newEventId() }],
      ['security.sec-a.signature_invalid', { marker }],
      ['deadletter.HEALTH.http', { marker }],
      // Dead letters are written by the services whose consumers refused something, per tenant:
      // a producer can neither fill its own share nor another tenant's.
      ['deadletter.HEALTH.http-ingest.sec-a', { marker }],
      ['deadletter.HEALTH.detector-health.sec-b', { marker }],
    ];
    const js = jetstream(nc);
    for (const [subject, body] of forged) {
      // A JetStream publish fails with the violation; the core publish is reported on the connection.
      await expect(js.publish(subject, JSON.stringify(body), { timeout: 3000 })).rejects.toThrow(/Permissions Violation/);
    }
    await expect(nc.request('agent.command.sec-a.api.a-1', JSON.stringify({ remediationId: newEventId(), tenantId: 'sec-a', service: 'api', instance: 'a-1' }), { timeout: 3000 })).rejects.toThrow(
      /Permissions Violation|no responders/,
    );
    await nc.flush();
    await expectEventually(() => expect(errors.join('\n')).toMatch(/Publish to "agent\.command\.sec-a\.api\.a-1"/));

    // Its own tenant's health goes through (the control that the connection works at all).
    const own = newEvent('health.heartbeat', { tenantId: 'sec-a', producer: marker, data: { service: 'api', instance: 'a-9', intervalMs: 60_000, sequence: 0 } });
    await js.publish('health.sec-a.api.a-9', JSON.stringify(own));
    await expectEventually(async () => expect((await storedWith(marker)).filter((m) => m.startsWith('HEALTH'))).toHaveLength(1));
    // Time for a forged exit to have opened an incident and a restart, had it got through.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const stored = await storedWith(marker);
    expect(stored.filter((m) => !m.includes('"instance":"a-9"'))).toEqual([]);
    const incidents = await readStream<Envelope>(ops, 'INCIDENTS');
    expect(incidents.filter((e) => (e.data as { instance?: string }).instance === 'b-1')).toEqual([]);
    expect(await pids()).toEqual(pidsBefore);
  });

  it('refuses anonymous, plain-text and unknown-key connections', async () => {
    const once = { reconnect: false, timeout: 10_000 };
    await expect(connect({ servers: nats.url, tls: { caFile: nats.secure.caFile }, ...once })).rejects.toThrow(/Authorization Violation/i);
    const stranger = nkeys.createUser();
    const seedFile = join(nats.secure.dir, 'stranger.nk');
    writeFileSync(seedFile, new TextDecoder().decode(stranger.getSeed()), { mode: 0o600 });
    await expect(connect({ servers: nats.url, ...natsAuthOptions({ seedFile, caFile: nats.secure.caFile }), ...once })).rejects.toThrow(/Authorization Violation/i);
    // A client that does not trust the server's CA does not talk to it either.
    const producerSeed = nats.secure.credentials('producer:sec-a').seedFile;
    await expect(connect({ servers: nats.url, ...natsAuthOptions({ seedFile: producerSeed }), tls: {}, ...once })).rejects.toThrow(/certificate/i);
    // Plain text, spoken by hand with a valid producer's credentials out of the picture: the server
    // announces tls_required and never answers a plain CONNECT/PING; it drops the connection.
    const transcript = await plainTextAttempt(nats.port);
    expect(transcript.info).toMatchObject({ tls_required: true });
    expect(transcript.afterConnect).not.toMatch(/PONG|\+OK/);
    expect(transcript.closedByServer).toBe(true);
  });

  it('a producer can neither read, purge nor delete a stream, nor consume another stream, nor read another identity’s inbox', async () => {
    const { nc, errors } = await attacker('producer:sec-a');
    const healthBefore = (await (await jetstreamManager(ops)).streams.info('HEALTH')).state.messages;
    // jetstreamManager() itself asks $JS.API.INFO, which a producer may not.
    await expect(jetstreamManager(nc)).rejects.toThrow(/Permissions Violation/);
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await expect(jsm.streams.info('HEALTH')).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.purge('HEALTH')).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.delete('INCIDENTS')).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.consumers.add('INCIDENTS', { durable_name: 'spy', filter_subject: 'incident.>' })).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.getMessage('REMEDIATIONS', { seq: 1 })).rejects.toThrow(/Permissions Violation/);

    const executorInbox = inboxPrefixFor(nats.secure.identities.get('executor')!.publicKey);
    const subErrors: string[] = [];
    for (const subject of [`${executorInbox}.>`, '_INBOX.>', 'remediation.>', 'agent.command.>']) {
      nc.subscribe(subject, {
        callback: (error) => {
          if (error) subErrors.push(`${subject}: ${String(error)}`);
        },
      });
    }
    await nc.flush();
    await expectEventually(() => {
      const all = [...errors, ...subErrors].join('\n');
      for (const subject of [`${executorInbox}.>`, '_INBOX.>', 'remediation.>', 'agent.command.>']) expect(all).toContain(`Subscription to "${subject}"`);
    });

    const after = await (await jetstreamManager(ops)).streams.info('HEALTH');
    expect(after.state.messages).toBeGreaterThanOrEqual(healthBefore);
    const infos = await Promise.all(STREAM_NAMES.map(async (s) => (await (await jetstreamManager(ops)).streams.info(s)).config.name));
    expect(infos).toEqual(STREAM_NAMES);
    expect((await (await jetstreamManager(ops)).consumers.list('INCIDENTS').next()).map((c) => c.name)).not.toContain('spy');
  });

  it('an agent receives only the commands of its own targets', async () => {
    const other = await attacker('agent:other');
    const received: string[] = [];
    const subErrors: string[] = [];
    const record = (error: Error | null, msg: Msg): void => {
      if (error) subErrors.push(String(error));
      else received.push(msg.subject);
    };
    other.nc.subscribe('agent.command.sec-a.api.a-1', { callback: record });
    other.nc.subscribe('agent.command.>', { callback: record });
    const own = other.nc.subscribe('agent.command.sec-b.api.b-1', { callback: record });
    await other.nc.flush();
    await expectEventually(() => {
      const all = [...other.errors, ...subErrors].join('\n');
      expect(all).toContain('Subscription to "agent.command.sec-a.api.a-1"');
      expect(all).toContain('Subscription to "agent.command.>"');
    });
    expect([...other.errors, ...subErrors].join('\n')).not.toContain('Subscription to "agent.command.sec-b.api.b-1"');
    own.unsubscribe();
    // The agent may not command anyone either, nor answer a request it did not receive.
    const js = jetstream(other.nc);
    await expect(js.publish('remediation.sec-b.succeeded', JSON.stringify({ forged: true }), { timeout: 3000 })).rejects.toThrow(/Permissions Violation/);
    other.nc.publish('agent.command.sec-b.api.b-1', JSON.stringify({ forged: true }));
    await other.nc.flush();
    await expectEventually(() => expect(other.errors.join('\n')).toContain('Publish to "agent.command.sec-b.api.b-1"'));
    expect(received).toEqual([]);
    expect(await pids()).toEqual(pidsBefore);
  });

  it('only the auditor writes the API_KEYS bucket: the executor, an agent and a producer cannot plant a key, and the decision service only reads', async () => {
    // A forged grant: admin over every tenant for a key the attacker knows.
    const hash = 'f'.repeat(64);
    const grant = JSON.stringify({ id: 'ak_ffffffffffffffff', subject: 'attacker', roles: ['admin'], tenantScope: '*', expiresAt: null });
    for (const identity of ['executor', 'agent:other', 'producer:sec-a']) {
      const { nc, errors } = await attacker(identity);
      const js = jetstream(nc, { checkAPI: false });
      await expect(js.publish(`$KV.${API_KEYS_BUCKET}.${hash}`, grant, { timeout: 3000 })).rejects.toThrow(/Permissions Violation/);
      nc.publish(`$KV.${API_KEYS_BUCKET}.${hash}`, grant);
      await nc.flush();
      await expectEventually(() => expect(errors.join('\n')).toContain(`Publish to "$KV.${API_KEYS_BUCKET}.${hash}"`));
      // Nor may it drop the bucket or rewrite its stream.
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      await expect(jsm.streams.delete(`KV_${API_KEYS_BUCKET}`)).rejects.toThrow(/Permissions Violation/);
    }
    // The decision service's identity may watch the bucket but not write it.
    const { nc: decision } = await attacker('decision');
    const readable = await new Kvm(decision).open(API_KEYS_BUCKET);
    await expect(readable.put(hash, grant)).rejects.toThrow(/Permissions Violation|timeout/i);
    // No effect: the auditor (the bucket's writer) sees no such key.
    const { nc: auditor } = await attacker('auditor');
    const kv = await new Kvm(auditor).open(API_KEYS_BUCKET);
    expect(await kv.get(hash)).toBeNull();
  });

  it("only the decision service may publish on the system subject: the executor, the auditor and a producer cannot put refusals in the system trail's name", async () => {
    const marker = `forged-${newEventId()}`;
    for (const identity of ['executor', 'auditor', 'detector', 'producer:sec-a']) {
      const { nc } = await attacker(identity);
      await expect(jetstream(nc).publish('security.@system.access_refused', JSON.stringify({ marker }), { timeout: 3000 })).rejects.toThrow(/Permissions Violation/);
    }
    expect(await storedWith(marker)).toEqual([]);
  });

  it('logged the attacks server-side, and no violation by the system’s own identities', () => {
    const attackers = ['producer:sec-a', 'agent:other'].map((name) => nats.secure.identities.get(name)!.publicKey);
    const system = [...nats.secure.identities.entries()].filter(([name]) => !['producer:sec-a', 'agent:other'].includes(name));
    // The connection the server blames: `"$G/nkey:<public key>"` in each violation line. The
    // bucket and system-subject attacks above borrowed the services' identities.
    const byWhom = nats.violations()
      .filter((line) => !line.includes(`$KV.${API_KEYS_BUCKET}.`) && !line.includes(`STREAM.DELETE.KV_${API_KEYS_BUCKET}`) && !line.includes('security.@system.'))
      .map((line) => ({ line, key: /"\$G\/nkey:(U[A-Z2-7]{55})"/.exec(line)?.[1] }));
    expect(byWhom.filter((v) => v.key !== undefined && attackers.includes(v.key)).length).toBeGreaterThanOrEqual(10);
    expect(byWhom.filter((v) => system.some(([, { publicKey }]) => v.key === publicKey)).map((v) => v.line)).toEqual([]);
  });
});
