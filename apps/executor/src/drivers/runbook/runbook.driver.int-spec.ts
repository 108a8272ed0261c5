import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Webhook } from 'standardwebhooks';
import { securityReplyRejectedData, type ActionParameters, type RemediationAction, type RemediationRuntime } from '@autoheal/contracts';
import { expectEventually, freePort } from '@autoheal/testing';
import { CLOCK, systemClock } from '../../clock.js';
import { EXECUTOR_CONFIG, SECRET_RESOLVER } from '../../executor.tokens.js';
import type { SecretResolver } from '../../secrets.js';
import { describeDriverConformance } from '../../test-support/driver-conformance.js';
import { RunbookServiceStandIn, type AnswerMode } from '../../test-support/runbook-service-stand-in.js';
import { DriverError, DriverErrorCode } from '../driver.errors.js';
import type { DriverCommand, DriverResult } from '../remediation-driver.js';
import { RunbookCallbackController } from './runbook-callback.controller.js';
import { RunbookCallbacks } from './runbook-callbacks.js';
import { RunbookDriver, type RunbookDriverConfig } from './runbook.driver.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
/** The executor's secrets by name: acme's runbook, another tenant's, and one that is not a Standard Webhooks secret. */
const SECRETS: Record<string, string> = { ACME_RUNBOOK_SECRET: newSecret(), GLOBEX_RUNBOOK_SECRET: newSecret(), BROKEN_RUNBOOK_SECRET: 'hunter2' };
const secrets: SecretResolver = (name) => SECRETS[name];
const acme = new Webhook(SECRETS.ACME_RUNBOOK_SECRET);
const globex = new Webhook(SECRETS.GLOBEX_RUNBOOK_SECRET);

const PARAMETERS: Record<RemediationAction, ActionParameters> = {
  restart: {},
  replace: {},
  scale_out: { maxInstances: 4, scaleInAfterMs: 600_000 },
  failover: { toRegion: 'eu-west-1' },
  rollback: { toRelease: 'previous' },
  throttle: { limitPerSecond: 50, ttlMs: 60_000 },
  scale_in: { minInstances: 2 },
  arm_switchover: { armTtlMs: 600_000 },
};

interface ExecutorHttp {
  app: INestApplication;
  config: RunbookDriverConfig;
  driver: RunbookDriver;
  callbacks: RunbookCallbacks;
}

/** The executor's runbook driver and callback endpoint, wired by Nest as the executor wires them, on a real HTTP server. */
async function startExecutorHttp(): Promise<ExecutorHttp> {
  const config: RunbookDriverConfig = { EXECUTOR_RUNBOOK_TIMEOUT_MS: 30_000, EXECUTOR_PUBLIC_URL: 'http://127.0.0.1:0' };
  const moduleRef = await Test.createTestingModule({
    controllers: [RunbookCallbackController],
    providers: [{ provide: EXECUTOR_CONFIG, useValue: config }, { provide: CLOCK, useValue: systemClock }, { provide: SECRET_RESOLVER, useValue: secrets }, RunbookCallbacks, RunbookDriver],
  }).compile();
  const app = moduleRef.createNestApplication({ rawBody: true, logger: false });
  await app.listen(0, '127.0.0.1');
  // The port is known only once listening; the driver reads the URL on every call.
  config.EXECUTOR_PUBLIC_URL = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
  return { app, config, driver: app.get(RunbookDriver), callbacks: app.get(RunbookCallbacks) };
}

function describeResult(result: unknown): string {
  return JSON.stringify(result, null, 2);
}

async function driverError(promise: Promise<unknown>): Promise<DriverError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome) || !(outcome.error instanceof DriverError)) throw new Error(`expected a DriverError, got ${describeResult(outcome)}`);
  return outcome.error;
}

/** Headers signed as the runbook (or whoever holds `webhook`) signs, as message `id`, at `at`. */
function signedBy(webhook: Webhook, id: string, body: string, at = new Date()): Record<string, string> {
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': webhook.sign(id, at, body) };
}

/** An HTTP server answering the executor however `answer` says: forged answers, failures. */
async function startImpostor(answer: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string>; body: string }): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = answer(req, Buffer.concat(chunks).toString('utf8'));
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/autoheal`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sits between the executor and the runbook and changes the request on the way. */
async function startTamperingProxy(upstream: string, tamper: (body: string, headers: Record<string, string>) => { body: string; headers: Record<string, string> }): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(req.headers[h] ?? '')]));
      const changed = tamper(Buffer.concat(chunks).toString('utf8'), headers);
      void fetch(upstream, { method: 'POST', headers: changed.headers, body: changed.body }).then(async (answer) => {
        const text = await answer.text();
        const forwarded = Object.fromEntries(['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature'].flatMap((h) => (answer.headers.get(h) ? [[h, answer.headers.get(h) as string]] : [])));
        res.writeHead(answer.status, forwarded);
        res.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/autoheal`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The conformance suite against a real runbook service answering in `mode`. */
function conformanceAgainstStandIn(mode: AnswerMode): void {
  let standIn: RunbookServiceStandIn | undefined;
  let executor: ExecutorHttp | undefined;
  let targets = 0;
  describeDriverConformance(
    `RunbookDriver against a runbook service answering ${mode === 'sync' ? 'at once' : '202 and a signed callback'}`,
    'runbook',
    async () => {
      const runbook = await new RunbookServiceStandIn(SECRETS.ACME_RUNBOOK_SECRET).start();
      const http = await startExecutorHttp();
      standIn = runbook;
      executor = http;
      // Short enough that the time-bound case does not drag; local calls answer in milliseconds.
      const runtime: RemediationRuntime = { kind: 'runbook', url: runbook.url, secretRef: 'ACME_RUNBOOK_SECRET', timeoutMs: 4_000 };
      return {
        driver: http.driver,
        target: async () => {
          const instance = `api-${++targets}`;
          runbook.addTarget('acme', 'api', instance, { mode });
          return { tenantId: 'acme', service: 'api', instance, runtime };
        },
        unknownTarget: () => ({ tenantId: 'acme', service: 'api', instance: 'nobody-runs-this', runtime }),
        parametersFor: (action) => PARAMETERS[action],
        observedEffects: async (remediationId) => runbook.observedEffects(remediationId),
        silence: async (target) => {
          const restore = runbook.silence(target.tenantId, target.service, target.instance);
          return async () => restore();
        },
      };
    },
    async () => {
      await executor?.app.close();
      await standIn?.stop();
    },
  );
}

conformanceAgainstStandIn('sync');
conformanceAgainstStandIn('callback');

describe('RunbookDriver (real HTTP runbook service, real callback endpoint)', () => {
  let standIn: RunbookServiceStandIn;
  let executor: ExecutorHttp;
  let instances = 0;

  /** A target the stand-in runs, answering in `mode`. */
  function target(mode: AnswerMode = 'sync'): string {
    const instance = `api-${mode}-${++instances}`;
    standIn.addTarget('acme', 'api', instance, { mode });
    return instance;
  }

  function command(instance: string, runtime: Partial<Extract<RemediationRuntime, { kind: 'runbook' }>> = {}): DriverCommand {
    return {
      tenantId: 'acme',
      service: 'api',
      instance,
      remediationId: randomUUID(),
      action: 'restart',
      parameters: {},
      runtime: { kind: 'runbook', url: standIn.url, secretRef: 'ACME_RUNBOOK_SECRET', timeoutMs: 5_000, ...runtime },
    };
  }

  /** POSTs a callback to the executor, signed however the test says. */
  async function postCallback(remediationId: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${executor.config.EXECUTOR_PUBLIC_URL}/v1/runbook-callbacks/${remediationId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  }

  /** Starts a call to a target that answers 202 and holds its callback; resolves once the runbook has acted. */
  async function callAwaitingCallback(timeoutMs = 5_000): Promise<{ cmd: DriverCommand; result: Promise<DriverResult> }> {
    const cmd = command(target('held_callback'), { timeoutMs });
    const result = executor.driver.perform(cmd);
    await expectEventually(() => expect(standIn.holdsCallback(cmd.remediationId)).toBe(true));
    return { cmd, result };
  }

  const forgedDone = (object = 'forged') => JSON.stringify({ status: 'done', effects: [{ verb: 'restarted', object }] });

  beforeAll(async () => {
    standIn = await new RunbookServiceStandIn(SECRETS.ACME_RUNBOOK_SECRET).start();
    executor = await startExecutorHttp();
  });

  afterAll(async () => {
    await executor.app.close();
    await standIn.stop();
  });

  describe('a runbook that answers 202 and calls back', () => {
    it('reports the effects of the signed callback; the runbook got 202 for its request and 204 for its callback', async () => {
      const cmd = command(target('callback'));
      const result = await executor.driver.perform(cmd);
      if (!result.ok) throw new Error(`expected success:\n${describeResult(result)}`);
      expect(result).toMatchObject({ replayed: false, effects: [{ verb: 'restarted', object: cmd.instance }] });
      expect(result.effects).toEqual(standIn.observedEffects(cmd.remediationId));
      expect(standIn.requestsFor(cmd.remediationId)).toEqual([{ webhookId: cmd.remediationId, verdict: 'acted', status: 202 }]);
      await expectEventually(() => expect(standIn.callbackStatuses.get(cmd.remediationId)).toEqual([204]));
      expect(executor.callbacks.waiting).toBe(0);
    });

    it('waits as long as the runbook takes within the deadline', async () => {
      const { cmd, result } = await callAwaitingCallback();
      await standIn.releaseCallback(cmd.remediationId);
      await expect(result).resolves.toMatchObject({ ok: true, effects: standIn.observedEffects(cmd.remediationId) });
    });

    it('gives up with a DriverError (timeout) when the callback never comes', async () => {
      const { result } = await callAwaitingCallback(1_000);
      expect((await driverError(result)).code).toBe(DriverErrorCode.Timeout);
      expect(executor.callbacks.waiting).toBe(0);
    });
  });

  describe('idempotence', () => {
    it('two calls at once for one remediation send one request; the second reports replayed', async () => {
      const cmd = command(target('sync'));
      const results = await Promise.all([executor.driver.perform(cmd), executor.driver.perform(cmd)]);
      expect(results.map((r) => r.ok && r.replayed).sort()).toEqual([false, true]);
      expect(standIn.requestsFor(cmd.remediationId)).toHaveLength(1);
    });

    it('after an executor restart (a fresh driver) the runbook’s dedupe by webhook-id replays the first outcome and acts no more', async () => {
      const cmd = command(target('sync'));
      const first = await executor.driver.perform(cmd);
      const restarted = new RunbookDriver(executor.config, secrets, systemClock, executor.callbacks);
      const again = await restarted.perform(cmd);
      if (!first.ok || !again.ok) throw new Error(`expected successes:\n${describeResult([first, again])}`);
      expect(again.replayed).toBe(true);
      expect(again.effects).toEqual(first.effects);
      expect(standIn.requestsFor(cmd.remediationId).map((r) => r.verdict)).toEqual(['acted', 'replayed']);
      expect(standIn.observedEffects(cmd.remediationId)).toEqual(first.effects);
    });
  });

  describe('secrets', () => {
    it.each([
      ['the executor holds no secret of that name', 'NOBODY_RUNBOOK_SECRET', 'runbook_secret_missing'],
      ['the secret is not a Standard Webhooks secret', 'BROKEN_RUNBOOK_SECRET', 'runbook_secret_invalid'],
    ])('fails when %s, having sent nothing', async (_name, secretRef, code) => {
      const cmd = command(target('sync'), { secretRef });
      const result = await executor.driver.perform(cmd);
      expect(result).toMatchObject({ ok: false, error: { code, message: expect.stringContaining(secretRef) as unknown } });
      if (!result.ok) expect(result.error.message).not.toContain(SECRETS.BROKEN_RUNBOOK_SECRET);
      expect(standIn.requestsFor(cmd.remediationId)).toEqual([]);
    });
  });

  describe('answers that are not the runbook’s word are never success', () => {
    const done = JSON.stringify({ status: 'done', effects: [{ verb: 'restarted', object: 'forged' }] });
    it.each([
      ['an unsigned answer', (_id: string) => ({ status: 200, body: done }), 'unsigned'],
      ['an answer signed with another tenant’s secret', (id: string) => ({ status: 200, headers: signedBy(globex, id, done), body: done }), 'bad_signature'],
      ['the runbook’s signed answer about another remediation', (_id: string) => ({ status: 200, headers: signedBy(acme, randomUUID(), done), body: done }), 'mismatched_reply'],
      ['an old signed answer replayed (timestamp outside the tolerance)', (id: string) => ({ status: 200, headers: signedBy(acme, id, done, new Date(Date.now() - 10 * 60_000)), body: done }), 'bad_signature'],
      ['the runbook’s signed answer with its effects altered', (id: string) => ({ status: 200, headers: signedBy(acme, id, forgedDone('api-1')), body: done }), 'bad_signature'],
      ['an unsigned 404', (_id: string) => ({ status: 404, body: '{"status":"failed","code":"unknown_target","message":"?"}' }), 'unsigned'],
      ['an unsigned 202', (_id: string) => ({ status: 202, body: '{"status":"accepted"}' }), 'unsigned'],
    ] as const)('%s: failed, unattributed_reply, with the security event’s facts', async (_name, forge, reason) => {
      const impostor = await startImpostor((req) => forge(String(req.headers['webhook-id'])));
      try {
        const cmd = command('api-impostor', { url: impostor.url });
        const result = await executor.driver.perform(cmd);
        expect(result).toMatchObject({
          ok: false,
          error: { code: 'unattributed_reply' },
          unattributed: { reason, remediationId: cmd.remediationId, commandId: cmd.remediationId, service: 'api', instance: 'api-impostor', expectedSigner: 'runbook:ACME_RUNBOOK_SECRET', keyId: null },
        });
        // What the executor raises as security.reply_rejected must be a valid event.
        if (!result.ok) expect(securityReplyRejectedData.safeParse(result.unattributed).success).toBe(true);
      } finally {
        await impostor.close();
      }
    });
  });

  describe('a request tampered with on the way', () => {
    it.each([
      ['another action', (body: string, headers: Record<string, string>) => ({ body: body.replace('"action":"restart"', '"action":"replace"'), headers })],
      ['another instance', (body: string, headers: Record<string, string>) => ({ body: body.replace(/"instance":"[^"]+"/, '"instance":"api-victim"'), headers })],
      ['another remediation id', (body: string, headers: Record<string, string>) => {
        const other = randomUUID();
        return { body: body.replace(headers['webhook-id'], other), headers: { ...headers, 'webhook-id': other } };
      }],
      ['the signature dropped', (body: string, headers: Record<string, string>) => ({ body: body.replace('"action":"restart"', '"action":"replace"'), headers: { ...headers, 'webhook-signature': '' } })],
    ])('%s: the runbook refuses it, does nothing, and the executor records no success', async (_name, tamper) => {
      standIn.addTarget('acme', 'api', 'api-victim', { mode: 'sync' });
      const proxy = await startTamperingProxy(standIn.url, tamper);
      try {
        const before = standIn.requests.length;
        const cmd = command(target('sync'), { url: proxy.url });
        const result = await executor.driver.perform(cmd);
        if (result.ok) throw new Error(`a tampered request was counted as success:\n${describeResult(result)}`);
        expect(standIn.requests.slice(before).map((r) => r.verdict)).toEqual(['refused_signature']);
        expect(standIn.observedEffects(cmd.remediationId)).toEqual([]);
        const tamperedId = standIn.requests[standIn.requests.length - 1].webhookId;
        if (tamperedId) expect(standIn.observedEffects(tamperedId)).toEqual([]);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('callbacks', () => {
    it.each([
      ['signed with another tenant’s secret', (id: string, body: string) => signedBy(globex, id, body)],
      ['unsigned', () => ({})],
      ['signed by the runbook for another remediation', (_id: string, body: string) => signedBy(acme, randomUUID(), body)],
    ])('one %s is refused (401), decides nothing, and the runbook’s own callback still does', async (_name, sign) => {
      const { cmd, result } = await callAwaitingCallback();
      const forgedSuccess = forgedDone();
      const forgedFailure = JSON.stringify({ status: 'failed', code: 'forged', message: 'forged' });
      for (const forged of [forgedSuccess, forgedFailure]) {
        const answer = await postCallback(cmd.remediationId, forged, sign(cmd.remediationId, forged));
        expect(answer).toMatchObject({ status: 401, body: { error: 'unattributed_callback' } });
      }
      expect(executor.callbacks.waiting).toBeGreaterThan(0);
      await standIn.releaseCallback(cmd.remediationId);
      const outcome = await result;
      expect(outcome).toMatchObject({ ok: true, replayed: false, effects: standIn.observedEffects(cmd.remediationId) });
      expect(standIn.callbackStatuses.get(cmd.remediationId)).toEqual([204]);
    });

    it('an old callback replayed (timestamp outside the tolerance) is refused; with no genuine one the call ends unattributed, never success', async () => {
      const { cmd, result } = await callAwaitingCallback(1_500);
      const body = forgedDone(cmd.instance);
      const answer = await postCallback(cmd.remediationId, body, signedBy(acme, cmd.remediationId, body, new Date(Date.now() - 10 * 60_000)));
      expect(answer).toMatchObject({ status: 401, body: { error: 'unattributed_callback', message: expect.stringMatching(/too old/) as unknown } });
      expect(await result).toMatchObject({ ok: false, error: { code: 'unattributed_reply' }, unattributed: { reason: 'bad_signature', remediationId: cmd.remediationId, detail: expect.stringMatching(/^callback: /) as unknown } });
    });

    it('a callback for a remediation nobody waits for is refused (404) and changes nothing', async () => {
      const unknown = randomUUID();
      const body = forgedDone();
      expect(await postCallback(unknown, body, signedBy(acme, unknown, body))).toMatchObject({ status: 404, body: { error: 'unknown_remediation' } });

      // Nor one for a remediation already answered: its outcome stays what the runbook first said.
      const cmd = command(target('sync'));
      const first = await executor.driver.perform(cmd);
      const late = JSON.stringify({ status: 'failed', code: 'late', message: 'late' });
      expect(await postCallback(cmd.remediationId, late, signedBy(acme, cmd.remediationId, late))).toMatchObject({ status: 404 });
      expect(await executor.driver.perform(cmd)).toMatchObject({ ok: true, replayed: true, effects: first.ok ? first.effects : [] });
    });

    it('a signed callback that breaks the protocol is refused (400, naming the field) and the call ends with a DriverError, to be retried', async () => {
      const { cmd, result } = await callAwaitingCallback();
      // Caught from now on: the call fails while the callback's answer is still on its way.
      const failure = driverError(result);
      const body = JSON.stringify({ status: 'done', effects: [{ verb: 'exploded', object: cmd.instance }] });
      const answer = await postCallback(cmd.remediationId, body, signedBy(acme, cmd.remediationId, body));
      expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_callback', message: expect.stringContaining('effects.0.verb') as unknown } });
      expect((await failure).code).toBe(DriverErrorCode.InvalidReply);
    });
  });

  describe('answers that are the runbook’s word', () => {
    it.each([
      ['a signed refusal with 200', 200],
      ['a signed refusal with 409', 409],
    ])('%s: failed with the runbook’s code and message', async (_name, status) => {
      const body = JSON.stringify({ status: 'failed', code: 'disk_full', message: 'no space left on /var' });
      const impostor = await startImpostor((req) => ({ status, headers: signedBy(acme, String(req.headers['webhook-id']), body), body }));
      try {
        await expect(executor.driver.perform(command('api-refusal', { url: impostor.url }))).resolves.toEqual({ ok: false, error: { code: 'disk_full', message: 'no space left on /var' } });
      } finally {
        await impostor.close();
      }
    });
  });

  describe('no usable answer throws a DriverError (the executor retries)', () => {
    it('connection refused: unreachable', async () => {
      const port = await freePort();
      const cmd = command('api-1', { url: `http://127.0.0.1:${port}/hooks/autoheal` });
      expect((await driverError(executor.driver.perform(cmd))).code).toBe(DriverErrorCode.Unreachable);
    });

    it.each([
      ['a 503 (unsigned, from a proxy)', 503, () => ({}), DriverErrorCode.Unreachable],
      ['a 429', 429, () => ({}), DriverErrorCode.Unreachable],
      ['a redirect', 302, () => ({ location: 'http://127.0.0.1:1/' }), DriverErrorCode.InvalidReply],
    ] as const)('%s', async (_name, status, headers, code) => {
      const impostor = await startImpostor(() => ({ status, headers: headers(), body: '{}' }));
      try {
        expect((await driverError(executor.driver.perform(command('api-1', { url: impostor.url })))).code).toBe(code);
      } finally {
        await impostor.close();
      }
    });

    it('a signed answer that breaks the protocol: invalid reply, naming the field', async () => {
      const body = JSON.stringify({ status: 'done', effects: [] });
      const impostor = await startImpostor((req) => ({ status: 200, headers: signedBy(acme, String(req.headers['webhook-id']), body), body }));
      try {
        const error = await driverError(executor.driver.perform(command('api-1', { url: impostor.url })));
        expect(error.code).toBe(DriverErrorCode.InvalidReply);
        expect(error.message).toContain('effects');
      } finally {
        await impostor.close();
      }
    });

    it('the request the runbook receives is signed, carries the plan and a callback URL, and a deadline at the timeout', async () => {
      let seen: { headers: IncomingMessage['headers']; body: string } | undefined;
      const answer = JSON.stringify({ status: 'done', effects: [{ verb: 'scaled', object: 'api' }] });
      const impostor = await startImpostor((req, body) => {
        seen = { headers: req.headers, body };
        return { status: 200, headers: signedBy(acme, String(req.headers['webhook-id']), answer), body: answer };
      });
      try {
        const cmd = { ...command('api-7', { url: impostor.url, timeoutMs: 7_000 }), action: 'scale_out' as const, parameters: PARAMETERS.scale_out };
        await expect(executor.driver.perform(cmd)).resolves.toMatchObject({ ok: true });
        if (!seen) throw new Error('the runbook saw no request');
        expect(acme.verify(seen.body, seen.headers as Record<string, string>)).toEqual({
          type: 'autoheal.remediation',
          remediationId: cmd.remediationId,
          tenantId: 'acme',
          service: 'api',
          instance: 'api-7',
          action: 'scale_out',
          parameters: PARAMETERS.scale_out,
          callbackUrl: `${executor.config.EXECUTOR_PUBLIC_URL}/v1/runbook-callbacks/${cmd.remediationId}`,
          deadline: expect.any(String) as unknown,
        });
        expect(seen.headers['webhook-id']).toBe(cmd.remediationId);
        const body = JSON.parse(seen.body) as { deadline: string };
        expect(Date.parse(body.deadline) - Number(seen.headers['webhook-timestamp']) * 1000).toBeGreaterThanOrEqual(7_000);
        expect(Date.parse(body.deadline) - Number(seen.headers['webhook-timestamp']) * 1000).toBeLessThan(8_000);
      } finally {
        await impostor.close();
      }
    });
  });
});
