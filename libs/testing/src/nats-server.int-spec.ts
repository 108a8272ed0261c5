import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expectEventually } from './expect-eventually.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startNatsServer (real nats-server)', () => {
  const servers: NatsServerHandle[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('starts isolated JetStream servers on free ports, keeps streams across restart(), and cleans up on stop()', async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer()]);
    servers.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.url).toBe(`nats://127.0.0.1:${a.port}`);

    const nc = await connect({ servers: a.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'T', subjects: ['t.>'] });
      await jetstream(nc).publish('t.one', 'hello');
      // The other server is a different world.
      const ncB = await connect({ servers: b.url });
      expect(await (await jetstreamManager(ncB)).streams.names().next()).toEqual([]);
      await ncB.close();

      const reconnected = (async () => {
        for await (const status of nc.status()) if (status.type === 'reconnect') return true;
        return false;
      })();
      await a.restart({ downtimeMs: 200 });
      // The client reconnects to the same port; the file store kept the stream and its message.
      expect(await reconnected).toBe(true);
      await expectEventually(async () => {
        const info = await jsm.streams.info('T');
        expect(info.state.messages).toBe(1);
      });
    } finally {
      await nc.close();
    }

    await a.stop();
    expect(await portAccepts(a.port)).toBe(false);
    expect(existsSync(a.storeDir)).toBe(false);
  });
});
