import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { expectEventually } from '@autoheal/testing';
import { FrontProxy } from './front-proxy.js';

/** A backend that answers every request with its name. */
function backend(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(name));
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

async function answerThrough(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) });
    return await res.text();
  } catch {
    return null;
  }
}

// Real sockets on OS-picked ports: what the agent's front does with connections when it is switched.
describe('FrontProxy', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  async function setUp() {
    const a = await backend('a');
    const b = await backend('b');
    const front = await FrontProxy.listen(0, null);
    closing.push(
      () => front.close(),
      async () => {
        for (const s of [a.server, b.server]) {
          s.closeAllConnections();
          await new Promise((resolve) => s.close(resolve));
        }
      },
    );
    return { a, b, front };
  }

  it('refuses connections until it has a target, then pipes to it; a switch sends new requests to the new target', async () => {
    const { a, b, front } = await setUp();
    expect(await answerThrough(front.port)).toBeNull();
    front.switchTo(a.port);
    expect(await answerThrough(front.port)).toBe('a');
    front.switchTo(b.port);
    expect(front.targetPort).toBe(b.port);
    expect(await answerThrough(front.port)).toBe('b');
  });

  it('closes the connections piped to the old target when switched, and keeps those to the new one', async () => {
    const { a, b, front } = await setUp();
    front.switchTo(a.port);
    const open = async (): Promise<{ socket: Socket; closed: Promise<boolean> }> => {
      const socket = connect({ host: '127.0.0.1', port: front.port });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve(true))) };
    };
    const toA = await open();
    await expectEventually(() => expect(front.connections).toBe(1));
    front.switchTo(b.port);
    expect(await toA.closed).toBe(true);
    const toB = await open();
    await expectEventually(() => expect(front.connections).toBe(1));
    front.switchTo(b.port);
    // Switching to the target it already has closes nothing.
    expect(front.connections).toBe(1);
    toB.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const reply = await new Promise<string>((resolve) => {
      let data = '';
      toB.socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      toB.socket.once('close', () => resolve(data));
    });
    expect(reply).toMatch(/\r\n\r\nb$/);
  });

  it('closes the client connection when the target refuses (its process is gone)', async () => {
    const { a, front } = await setUp();
    front.switchTo(a.port);
    a.server.closeAllConnections();
    await new Promise((resolve) => a.server.close(resolve));
    expect(await answerThrough(front.port)).toBeNull();
    await expectEventually(() => expect(front.connections).toBe(0));
  });
});
