/**
 * The admission hook in real servers: Express, Fastify and plain node:http listening on an
 * OS-picked port, requests over real sockets. The gate runs on a clock the test holds still, so
 * exactly `burst` requests get through and the rest are shed; moving the clock past `expiresAt`
 * lets everything through again.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { AdmissionGate } from './admission-gate.js';
import { expressAdmission } from './express-admission.js';
import { fastifyAdmission } from './fastify-admission.js';
import { nodeHttpAdmission } from './node-http-admission.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const REMEDIATION = '0190a5e2-7c1b-7d3e-9f00-0123456789ab';

interface Running {
  url: string;
  /** Requests that reached the application's handler. */
  handled: () => number;
  close: () => Promise<void>;
}

async function listening(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

const frameworks: [string, (gate: AdmissionGate) => Promise<Running>][] = [
  [
    'express',
    async (gate) => {
      let handled = 0;
      const app = express();
      app.use(expressAdmission(gate));
      app.post('/orders', (_req, res) => {
        handled++;
        res.json({ ok: true });
      });
      const server = app.listen(0, '127.0.0.1');
      return { url: await listening(server), handled: () => handled, close: () => closeServer(server) };
    },
  ],
  [
    'fastify',
    async (gate) => {
      let handled = 0;
      const app = Fastify();
      app.addHook('onRequest', fastifyAdmission(gate));
      app.post('/orders', async () => {
        handled++;
        return { ok: true };
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: await listening(app.server), handled: () => handled, close: () => app.close() };
    },
  ],
  [
    'node:http',
    async (gate) => {
      let handled = 0;
      const server = createServer(
        nodeHttpAdmission(gate, (_req, res) => {
          handled++;
          res.setHeader('Content-Type', 'application/json');
          res.end('{"ok":true}');
        }),
      );
      server.listen(0, '127.0.0.1');
      return { url: await listening(server), handled: () => handled, close: () => closeServer(server) };
    },
  ],
];

interface Answer {
  status: number;
  retryAfter: string | null;
  contentType: string | null;
  body: unknown;
}

/** `n` POSTs with a small body, all at once (keep-alive, so a shed one must leave its connection usable). */
async function fire(url: string, n: number): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }) });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), contentType: res.headers.get('content-type'), body: await res.json() };
    }),
  );
}

const statuses = (answers: Answer[]) => answers.map((a) => a.status).sort();
const repeat = <T>(value: T, n: number): T[] => Array.from({ length: n }, () => value);

describe.each(frameworks)('admission hook in %s', (_name, start) => {
  const clock = { now: T0 };
  const gate = new AdmissionGate({ nowMs: () => clock.now });
  let server: Running;

  beforeAll(async () => {
    server = await start(gate);
  });
  afterAll(() => server.close());

  it('admits everything while no throttle is set', async () => {
    expect(statuses(await fire(server.url, 5))).toEqual(repeat(200, 5));
    expect(server.handled()).toBe(5);
  });

  it('sheds what the bucket does not hold with 503, Retry-After and the JSON body; shed requests never reach the handler', async () => {
    gate.setThrottle({ remediationId: REMEDIATION, limitPerSecond: 1, burst: 3, expiresAt: new Date(T0 + 60_000) });
    const answers = await fire(server.url, 10);

    expect(statuses(answers)).toEqual([...repeat(200, 3), ...repeat(503, 7)]);
    for (const shed of answers.filter((a) => a.status === 503)) {
      expect(shed).toEqual({
        status: 503,
        retryAfter: '1',
        contentType: expect.stringMatching(/^application\/json/) as unknown,
        body: { error: 'throttled', retryAfterSeconds: 1, remediationId: REMEDIATION },
      });
    }
    expect(server.handled()).toBe(5 + 3);
    expect(gate.stats).toMatchObject({ shed: 7, throttle: { remediationId: REMEDIATION, shed: 7 } });
  });

  it('admits everything again once the throttle has expired', async () => {
    clock.now = T0 + 60_000;
    expect(statuses(await fire(server.url, 10))).toEqual(repeat(200, 10));
    expect(server.handled()).toBe(5 + 3 + 10);
    expect(gate.current()).toBeUndefined();
  });
});
