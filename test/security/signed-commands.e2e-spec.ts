/**
 * Attacks on the command path, against the whole system as processes: commands sent straight
 * to the agent's subject (unsigned, expired, replayed) must be refused with no effect on the
 * process; answers from a rogue responder must never be recorded as success.
 */
import { agentCommandReply, agentCommandSubject, newEvent, newEventId, type AgentCommandReply, type Envelope } from '@autoheal/contracts';
import { generateSigningKey, signCommand, signReply, type CommandContent, type SigningKey } from '@autoheal/security';
import { expectEventually, readStream } from '@autoheal/testing';
import { startSecuritySystem, TENANT, type SecuritySystem } from './security-system.js';

const ONE = { tenantId: TENANT, service: 'api', instance: 'c-1' };
const TWO = { tenantId: TENANT, service: 'api', instance: 'c-2' };

describe('signed commands and signed answers (whole system, real nats-server and Postgres)', () => {
  let sys: SecuritySystem;

  beforeAll(async () => {
    sys = await startSecuritySystem([ONE.instance, TWO.instance], { rogueOnlyTargets: ['r-unsigned', 'r-stranger', 'r-other'] });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  function command(over: Partial<CommandContent> = {}, ttlMs = 30_000, key?: SigningKey) {
    const issued = Date.now();
    return signCommand(key ?? sys.key('executor'), {
      commandId: newEventId(),
      remediationId: newEventId(),
      ...ONE,
      action: 'restart',
      parameters: {},
      issuedAt: new Date(issued).toISOString(),
      expiresAt: new Date(issued + ttlMs).toISOString(),
      ...over,
    });
  }

  async function send(target: typeof ONE, body: unknown): Promise<AgentCommandReply> {
    // Sent with the executor's NATS credentials: the only identity the bus lets command a target.
    const executor = await sys.as('executor');
    const reply = await executor.request(agentCommandSubject(target.tenantId, target.service, target.instance), JSON.stringify(body), { timeout: 20_000 });
    return agentCommandReply.parse(reply.json());
  }

  describe('commands sent straight to the agent', () => {
    it.each([
      ['unsigned', () => ({ ...command(), keyId: undefined, signature: undefined }), /^unsigned/],
      ['expired', () => command({ issuedAt: new Date(Date.now() - 120_000).toISOString(), expiresAt: new Date(Date.now() - 90_000).toISOString() }), /^expired/],
      ['signed by a key nobody trusts', () => command({}, 30_000, generateSigningKey().key), /^unknown_key/],
      ['signed by the decision service', () => command({}, 30_000, sys.key('decision')), /^not_entitled/],
    ])('refuses a command %s, and the process keeps its pid', async (_name, body, reason) => {
      const pid = await sys.pidOf(ONE.instance);
      const reply = await send(ONE, body());
      expect(reply).toMatchObject({ ok: false, code: 'command_rejected', agentId: 'demo-fleet' });
      if (reply.ok) throw new Error('unreachable');
      expect(reply.message).toMatch(reason);
      expect(await sys.pidOf(ONE.instance)).toBe(pid);
    });

    it('refuses a replayed command: after it expired, and for another target under the same remediation', async () => {
      // A command the executor really signed, valid for one second, captured on the wire.
      const captured = command({}, 1_000);
      const first = await send(ONE, captured);
      expect(first).toMatchObject({ ok: true, replayed: false });
      if (!first.ok) throw new Error('unreachable');
      const firstPid = first.effects[0].detail?.pid;
      // The command's process runs ONE — unless, on a loaded machine, the control plane read the
      // restart's gap in heartbeats as a hang and healed ONE again meanwhile (a restart under its
      // own remediation, not the command's doing; the replay below is judged against what runs then).
      await expectEventually(async () => {
        const now = (await sys.agentStatus()).find((i) => i.instance === ONE.instance);
        const healedAgain = (now?.restarts ?? 0) > 1 && now?.lastRestartRemediationId !== captured.remediationId;
        if (!healedAgain) expect(now).toMatchObject({ pid: firstPid, lastRestartRemediationId: captured.remediationId });
      });

      // The same remediation asked of another instance: refused, that instance untouched.
      const pidTwo = await sys.pidOf(TWO.instance);
      const twisted = await send(TWO, command({ ...TWO, remediationId: captured.remediationId }));
      expect(twisted).toMatchObject({ ok: false, code: 'command_rejected' });
      if (twisted.ok) throw new Error('unreachable');
      expect(twisted.message).toMatch(/^replayed/);
      expect(await sys.pidOf(TWO.instance)).toBe(pidTwo);

      // Once expired (plus the agent's clock skew allowance), the captured command is refused as it is.
      await new Promise((resolve) => setTimeout(resolve, Date.parse(captured.expiresAt) + 5_500 - Date.now()));
      // The instance as it is just before the replay: on a loaded machine the control plane may
      // have healed it meanwhile (its restart gap read as a hang), which is not the replay's doing.
      const beforeReplay = (await sys.agentStatus()).find((i) => i.instance === ONE.instance);
      const replayed = await send(ONE, captured);
      expect(replayed).toMatchObject({ ok: false, code: 'command_rejected' });
      if (replayed.ok) throw new Error('unreachable');
      expect(replayed.message).toMatch(/^expired/);
      const afterReplay = (await sys.agentStatus()).find((i) => i.instance === ONE.instance);
      expect(afterReplay).toMatchObject({ pid: beforeReplay?.pid, restarts: beforeReplay?.restarts, lastRestartRemediationId: beforeReplay?.lastRestartRemediationId });
      if (afterReplay?.restarts !== 1) console.log(`ONE was restarted ${afterReplay?.restarts} times before the replay (the control plane healed it meanwhile): ${JSON.stringify(afterReplay)}`);
    });
  });

  describe('a rogue responder in the agent’s place', () => {
    beforeAll(async () => {
      // Only the rogue answers from here on.
      await sys.system.services.get('agent')!.stop();
    });

    it.each([
      ['unsigned', 'r-unsigned', (req: Record<string, unknown>) => ({ ...reply(req) }), 'unsigned'],
      ['signed by an untrusted key', 'r-stranger', (req: Record<string, unknown>) => signReply(generateSigningKey().key, reply(req)), 'unknown_key'],
      ['signed by another agent the system trusts', 'r-other', (req: Record<string, unknown>) => signReply(sys.key('agent:rogue'), { ...reply(req), agentId: 'rogue' }), 'wrong_agent'],
    ] as const)('answering %s: the executor records a failure, never success', async (_name, instance, answer, reason) => {
      // The rogue holds the NATS credentials of a second agent the server lets receive these commands.
      const rogue = await sys.as('agent:rogue');
      let refusedByBus: Error | null = null;
      const sub = rogue.subscribe(agentCommandSubject(TENANT, 'api', instance), {
        callback: (err, msg) => {
          // The server refusing the subscription would make this test about the bus, not the signature.
          if (err) refusedByBus = err;
          else msg.respond(JSON.stringify(answer(msg.json())));
        },
      });
      await rogue.flush();
      expect(refusedByBus).toBeNull();
      try {
        // A plan the decision service really signed (the executor must act on it).
        const incidentId = newEventId();
        const remediationId = newEventId();
        const event = newEvent('remediation.planned', {
          tenantId: TENANT,
          producer: 'decision',
          correlationId: incidentId,
          data: { remediationId, incidentId, service: 'api', instance, action: 'restart', policyVersion: 'sha256:test', reason: 'test', candidates: [{ action: 'restart', allowed: true, reason: 'test' }] },
        });
        await sys.publish(event, { key: sys.key('decision') });

        await expectEventually(async () => {
          const rows = await sys.executions(remediationId);
          expect(rows).toMatchObject([{ status: 'failed', result: { error: { code: 'unattributed_reply' } } }]);
        }, { timeoutMs: 30_000 });
        await expectEventually(async () => {
          const trail = (await sys.audit()).filter((r) => JSON.stringify(r.payload).includes(remediationId));
          const types = trail.map((r) => r.eventType);
          expect(types).toEqual(expect.arrayContaining(['remediation.started', 'remediation.failed', 'security.reply_rejected']));
          expect(types).not.toContain('remediation.succeeded');
          expect(trail.find((r) => r.eventType === 'security.reply_rejected')!.payload.data).toMatchObject({ reason, remediationId, instance, expectedSigner: 'agent:demo-fleet' });
        }, { timeoutMs: 30_000 });
        const remediations = await readStream<Envelope>(sys.nc, 'REMEDIATIONS');
        expect(remediations.filter((e) => e.type === 'remediation.succeeded' && e.data.remediationId === remediationId)).toEqual([]);
      } finally {
        sub.unsubscribe();
      }
    });
  });
});

/** A success as the real agent would phrase it, for the command `req`, unsigned. */
function reply(req: Record<string, unknown>) {
  return {
    ok: true as const,
    remediationId: req.remediationId as string,
    commandId: req.commandId as string,
    agentId: 'demo-fleet',
    action: 'restart',
    effects: [{ verb: 'restarted', object: req.instance as string, detail: { pid: 4242 } }],
    completedAt: new Date().toISOString(),
    replayed: false,
    signedAt: new Date().toISOString(),
  };
}
