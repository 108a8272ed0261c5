import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { expectEventually } from '@autoheal/testing';
import { SparePool } from './spare-pool.js';

/** A stand-in for a spawned process: alive until kill(), which ends it as SIGKILL would. */
function fakeChild(pid: number): ChildProcess {
  const child = new EventEmitter() as ChildProcess & { exitCode: number | null; signalCode: NodeJS.Signals | null };
  Object.assign(child, { pid, exitCode: null, signalCode: null });
  child.kill = () => {
    child.signalCode = 'SIGKILL';
    setImmediate(() => child.emit('exit', null, 'SIGKILL'));
    return true;
  };
  return child;
}

describe('SparePool: the replacement of a taken spare waits until the switch has been served', () => {
  // Every spare "listens" on this one in-process server: readiness is a real GET /healthz.
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function pool(refillDelayMs: number) {
    const launches: { pid: number; at: number }[] = [];
    const spares = new SparePool({
      tenantId: 'acme',
      service: 'web',
      size: 1,
      release: { version: 'v1' },
      probe: { path: '/healthz' },
      launch: () => {
        const pid = 1000 + launches.length;
        launches.push({ pid, at: Date.now() });
        return fakeChild(pid);
      },
      freePort: () => Promise.resolve(port),
      readyTimeoutMs: 5_000,
      logger: pino({ level: 'silent' }),
      refillDelayMs,
    });
    return { spares, launches };
  }

  it('hands over a ready spare at once and spawns its replacement only after refillDelayMs', async () => {
    const { spares, launches } = pool(300);
    try {
      spares.fill();
      await expectEventually(() => expect(spares.status()).toEqual([expect.objectContaining({ pid: 1000, ready: true })]));
      const takenAt = Date.now();
      const taken = spares.take('v1');
      expect(taken?.pid).toBe(1000);
      // Nothing spawned while the switch's requests go through (the spawn would hold the agent's loop).
      expect(launches).toHaveLength(1);
      await expectEventually(() => expect(launches).toHaveLength(2));
      // A timer may fire a millisecond early against Date.now().
      expect(launches[1].at - takenAt).toBeGreaterThanOrEqual(300 - 2);
      await expectEventually(() => expect(spares.status()).toEqual([expect.objectContaining({ pid: 1001, ready: true })]));
    } finally {
      await spares.stop();
    }
  });

  it('spawns nothing once stopped, even with a refill pending', async () => {
    const { spares, launches } = pool(50);
    spares.fill();
    await expectEventually(() => expect(spares.status()).toEqual([expect.objectContaining({ ready: true })]));
    expect(spares.take('v1')).toBeDefined();
    await spares.stop();
    // Past the refill's due time, with margin: the timer was cleared.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(launches).toHaveLength(1);
  });

  it('has no ready spare to hand over while the replacement is pending', async () => {
    const { spares } = pool(300);
    try {
      spares.fill();
      await expectEventually(() => expect(spares.status()).toEqual([expect.objectContaining({ ready: true })]));
      expect(spares.take('v1')).toBeDefined();
      expect(spares.take('v1')).toBeUndefined();
    } finally {
      await spares.stop();
    }
  });
});
