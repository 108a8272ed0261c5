import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { closeNats, connectNats, natsDevServerSetup, provisionStreams, type SecureNatsMaterial } from '@autoheal/messaging';
import { expectEventually, readStream, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { run } from '../../apps/cli/src/program.js';

/** `autoheal producers create` against a real nats-server 2.15 with TLS and NKey users. */
describe('autoheal producers create (real secure nats-server)', () => {
  let nats: NatsServerHandle<SecureNatsMaterial>;
  let ops: NatsConnection;
  const opened: NatsConnection[] = [];

  beforeAll(async () => {
    nats = await startNatsServer(natsDevServerSetup([{ kind: 'service', service: 'detector' }, { kind: 'ops' }]));
    const detector = await connectNats({ servers: nats.url, ...nats.secure.credentials('detector'), name: 'detector', onClosedForGood: () => undefined });
    opened.push(detector);
    await provisionStreams(detector, 1, ['HEALTH']);
    ops = await connectNats({ servers: nats.url, ...nats.secure.credentials('ops'), name: 'ops', onClosedForGood: () => undefined });
    opened.push(ops);
  });

  afterAll(async () => {
    for (const nc of opened) await closeNats(nc).catch(() => undefined);
    await nats?.stop();
  });


  async function runCli(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, {}, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => new Date() });
    return { code, out, err };
  }

  it('creates a seed (0600) and a user that, after a reload, publishes its tenant health and nothing else', async () => {
    const seedFile = `${nats.secure.dir}/newco.nk`;
    const result = await runCli(['producers', 'create', 'newco', '--out', seedFile, '--nats-dir', nats.secure.dir]);
    expect(result).toMatchObject({ code: 0, err: [] });
    expect(result.out.join('\n')).toMatch(/health\.newco\.>/);
    expect(result.out.join('\n')).toMatch(/--signal reload/);
    expect(statSync(seedFile).mode & 0o777).toBe(0o600);

    // Not known to the server before it reads its config again.
    await expect(connectNats({ servers: nats.url, seedFile, caFile: nats.secure.caFile, name: 'newco-early', onClosedForGood: () => undefined })).rejects.toThrow(
      /Authorization Violation/i,
    );
    await nats.reload();

    const producer = await connectNats({ servers: nats.url, seedFile, caFile: nats.secure.caFile, name: 'newco', onClosedForGood: () => undefined });
    opened.push(producer);
    const errors: string[] = [];
    void (async () => {
      for await (const s of producer.status()) if (s.type === 'error') errors.push(String(s.error));
    })();
    const js = jetstream(producer);
    const ack = await js.publish('health.newco.api.api-1', JSON.stringify({ mine: true }));
    expect(ack.stream).toBe('HEALTH');

    // Another tenant's health and a control subject are refused by the server and stored nowhere.
    await expect(js.publish('health.other.api.api-1', JSON.stringify({ forged: true }))).rejects.toThrow(/Permissions Violation/);
    producer.publish('incident.newco.opened', JSON.stringify({ forged: true }));
    producer.publish('agent.restart.newco.api.api-1', JSON.stringify({ forged: true }));
    await producer.flush();
    await expectEventually(() => {
      expect(errors.join('\n')).toMatch(/Publish to "incident\.newco\.opened"/);
      expect(errors.join('\n')).toMatch(/Publish to "agent\.restart\.newco\.api\.api-1"/);
    });
    const stored = await readStream<Record<string, unknown>>(ops, 'HEALTH');
    expect(stored).toEqual([{ mine: true }]);
  });

  it('refuses a tenant id that would widen the subject, and writes nothing', async () => {
    const before = readFileSync(join(nats.secure.dir, 'users.conf'), 'utf8');
    const result = await runCli(['producers', 'create', 'newco.>', '--nats-dir', nats.secure.dir]);
    expect(result.code).toBe(2);
    expect(result.err.join('\n')).toMatch(/not a tenant id/);
    expect(readFileSync(join(nats.secure.dir, 'users.conf'), 'utf8')).toBe(before);
  });
});
