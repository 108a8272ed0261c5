/**
 * The throttle delivered as the host agent delivers it: over the IPC channel of a forked child
 * process running a node:http server behind the admission hook (test-support/throttled-http-server.js,
 * on the built SDK). Checks the acknowledgements, that the child sheds load while throttled and
 * not after a clear, that its own IPC messages are left alone, and that hostile commands are
 * refused without effect.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expectEventually } from '@autoheal/testing';
import { supervisorThrottleAck, type SupervisorThrottleAck } from './throttle.schema.js';

const FIXTURE = join(__dirname, 'test-support', 'throttled-http-server.js');
const SDK_BUILD = join(__dirname, '..', '..', 'dist', 'index.js');
const REMEDIATION = '0190a5e2-7c1b-7d3e-9f00-0123456789ab';
const MINUTE = 60_000;

interface Instance {
  child: ChildProcess;
  messages: unknown[];
  stderr: () => string;
  port: number;
  exited: Promise<void>;
}

const typeOf = (message: unknown) => (message as { type?: unknown } | null)?.type;

async function startInstance(): Promise<Instance> {
  const child = fork(FIXTURE, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const messages: unknown[] = [];
  let stderr = '';
  child.on('message', (message) => messages.push(message));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await expectEventually(() => {
    const found = messages.find((m) => typeOf(m) === 'fixture.listening') as { port: number } | undefined;
    expect({ found: found !== undefined, exitCode: child.exitCode, stderr }).toEqual({ found: true, exitCode: null, stderr: '' });
    return found!;
  });
  return { child, messages, stderr: () => stderr, port: listening.port, exited };
}

function acks(instance: Instance): SupervisorThrottleAck[] {
  return instance.messages.filter((m) => typeOf(m) === 'autoheal.throttle.ack').map((m) => supervisorThrottleAck.parse(m));
}

/** Sends one command and waits for its acknowledgement (acks come back in order, one per command). */
async function command(instance: Instance, message: unknown): Promise<SupervisorThrottleAck> {
  const before = acks(instance).length;
  instance.child.send(message as object);
  return expectEventually(() => {
    const now = acks(instance);
    expect({ acks: now.length, stderr: instance.stderr() }).toEqual({ acks: before + 1, stderr: '' });
    return now[before];
  });
}

interface Answer {
  status: number;
  retryAfter: string | null;
  body: unknown;
}

async function fire(port: number, n: number): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
    }),
  );
}

const repeat = <T>(value: T, n: number): T[] => Array.from({ length: n }, () => value);
const inMinutes = (minutes: number) => new Date(Date.now() + minutes * MINUTE).toISOString();

describe('supervisor commands over IPC (forked instance)', () => {
  let instance: Instance;

  beforeAll(async () => {
    if (!existsSync(SDK_BUILD)) throw new Error(`the fixture runs on the built SDK and ${SDK_BUILD} is missing: npm run build first`);
    instance = await startInstance();
  });

  afterAll(async () => {
    if (!instance) return;
    instance.child.kill();
    await instance.exited;
  });

  it('refuses hostile or malformed commands with ok:false naming the field, and keeps admitting everything', async () => {
    const valid = { type: 'autoheal.throttle', remediationId: REMEDIATION, limitPerSecond: 1, burst: 1, expiresAt: inMinutes(10) };
    const attempts: [unknown, RegExp][] = [
      [{ ...valid, limitPerSecond: -5 }, /^limitPerSecond: /],
      [{ ...valid, limitPerSecond: 0 }, /^limitPerSecond: /],
      [{ ...valid, limitPerSecond: '1' }, /^limitPerSecond: /],
      [{ ...valid, expiresAt: inMinutes(60 * 24 * 365) }, /^expiresAt: must be at most 24 h ahead/],
      [{ ...valid, expiresAt: inMinutes(-1) }, /^expiresAt: must be in the future/],
      [{ ...valid, exempt: ['/admin'] }, /^exempt: unknown field/],
      [JSON.parse(JSON.stringify(valid).replace(/^\{/, '{"__proto__":{"admitted":false},')), /^__proto__: unknown field/],
      [{ ...valid, burst: 1e12 }, /^burst: /],
      [{ type: 'autoheal.throttle.clear', remediationId: 'all' }, /^remediationId: /],
    ];
    for (const [message, error] of attempts) {
      const ack = await command(instance, message);
      expect({ sent: message, ack }).toEqual({ sent: message, ack: expect.objectContaining({ ok: false, error: expect.stringMatching(error) as unknown }) as unknown });
    }

    expect((await fire(instance.port, 20)).map((a) => a.status)).toEqual(repeat(200, 20));
    instance.child.send({ type: 'fixture.ping' });
    const pong = await expectEventually(() => {
      const found = instance.messages.filter((m) => typeOf(m) === 'fixture.pong');
      expect(found).toHaveLength(1);
      return found[0] as { stats: { shed: number; throttle?: unknown } };
    });
    expect(pong.stats).toMatchObject({ shed: 0 });
    expect(pong.stats.throttle).toBeUndefined();
  });

  it('applies a throttle sent over IPC, acknowledges it, sheds load with 503 until it is cleared', async () => {
    const expiresAt = inMinutes(10);
    const limitPerSecond = 1;
    const burst = 2;
    const started = Date.now();
    const ack = await command(instance, { type: 'autoheal.throttle', remediationId: REMEDIATION, limitPerSecond, burst, expiresAt });
    expect(ack).toEqual({ type: 'autoheal.throttle.ack', remediationId: REMEDIATION, ok: true, appliedUntil: expiresAt });

    const answers = await fire(instance.port, 30);
    const elapsedSeconds = Math.ceil((Date.now() - started) / 1000);
    const admitted = answers.filter((a) => a.status === 200);
    const shed = answers.filter((a) => a.status === 503);
    expect(shed.length).toBeGreaterThan(0);
    // The bucket plus what it can have refilled meanwhile, however slow the machine.
    expect(admitted.length).toBeLessThanOrEqual(burst + elapsedSeconds * limitPerSecond);
    for (const answer of shed) {
      expect(answer).toEqual({ status: 503, retryAfter: '1', body: { error: 'throttled', retryAfterSeconds: 1, remediationId: REMEDIATION } });
    }

    const cleared = await command(instance, { type: 'autoheal.throttle.clear', remediationId: REMEDIATION });
    expect(cleared).toEqual({ type: 'autoheal.throttle.ack', remediationId: REMEDIATION, ok: true, appliedUntil: null });
    expect((await fire(instance.port, 20)).map((a) => a.status)).toEqual(repeat(200, 20));
  });

  it('leaves the application its own IPC messages (no ack for them)', () => {
    // The fixture's own `fixture.listening` and `fixture.pong` went through the same channel;
    // every ack the instance sent answered one of the commands above (9 refused, 1 set, 1 clear).
    expect(acks(instance).map((a) => a.ok)).toEqual([...repeat(false, 9), true, true]);
    expect(instance.messages.filter((m) => typeOf(m) === 'fixture.pong')).toHaveLength(1);
  });
});
