import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { agentRestartSubject, newEventId } from '@autoheal/contracts';
import { closeNats, connectNats } from '@autoheal/messaging';
import { startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { DriverError, DriverErrorCode } from './driver.errors.js';
import { NatsAgentDriver } from './nats-agent.driver.js';

describe('NatsAgentDriver (real nats-server)', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let driver: NatsAgentDriver;
  const subs: Subscription[] = [];
  const target = (instance: string) => ({ tenantId: 'acme', service: 'api', instance });

  /** A responder on the instance's subject answering with whatever `reply` returns (nothing: stays silent). */
  async function respond(instance: string, reply: (request: Record<string, unknown>) => unknown): Promise<void> {
    subs.push(
      nc.subscribe(agentRestartSubject('acme', 'api', instance), {
        callback: (_err, msg) => {
          const answer = reply(msg.json());
          if (answer !== undefined) msg.respond(typeof answer === 'string' ? answer : JSON.stringify(answer));
        },
      }),
    );
    await nc.flush();
  }

  async function driverError(promise: Promise<unknown>): Promise<DriverError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof DriverError)) throw new Error(`expected a DriverError, got ${String(error)}`);
    return error;
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectNats({ servers: nats.url, name: 'driver-test', onClosedForGood: () => undefined });
    driver = new NatsAgentDriver(nc, { AGENT_TIMEOUT_MS: 300 });
  });

  afterAll(async () => {
    subs.forEach((s) => s.unsubscribe());
    await closeNats(nc);
    await nats.stop();
  });

  it('sends the contract request and returns the restart details', async () => {
    const seen: unknown[] = [];
    await respond('ok', (req) => {
      seen.push(req);
      return { ok: true, remediationId: req.remediationId, pid: 321, restartedAt: '2025-01-01T00:00:00.000Z', replayed: false };
    });
    const remediationId = newEventId();
    await expect(driver.restart(target('ok'), remediationId)).resolves.toEqual({
      ok: true,
      details: { pid: 321, restartedAt: '2025-01-01T00:00:00.000Z', replayed: false },
    });
    expect(seen).toEqual([{ remediationId, tenantId: 'acme', service: 'api', instance: 'ok' }]);
  });

  it('returns the agent’s refusal as a failed result', async () => {
    await respond('refuses', (req) => ({ ok: false, remediationId: req.remediationId, code: 'spawn_failed', message: 'ENOENT' }));
    await expect(driver.restart(target('refuses'), newEventId())).resolves.toEqual({ ok: false, error: { code: 'spawn_failed', message: 'ENOENT' } });
  });

  it.each([
    ['nobody listens', 'absent', undefined, DriverErrorCode.Unreachable],
    ['the agent stays silent', 'silent', () => undefined, DriverErrorCode.Timeout],
    ['the reply is not JSON', 'garbled', () => 'restarted!', DriverErrorCode.InvalidReply],
    ['the reply breaks the contract', 'odd', (req: Record<string, unknown>) => ({ ok: true, remediationId: req.remediationId }), DriverErrorCode.InvalidReply],
    ['the reply is about another remediation', 'confused', () => ({ ok: true, remediationId: newEventId(), pid: 1, restartedAt: new Date().toISOString(), replayed: false }), DriverErrorCode.InvalidReply],
  ] as const)('throws a DriverError when %s', async (_name, instance, reply, code) => {
    if (reply) await respond(instance, reply);
    expect((await driverError(driver.restart(target(instance), newEventId()))).code).toBe(code);
  });
});
