// The conformance suite every remediation driver passes (excluded from the build). A driver's
// integration spec calls describeDriverConformance with the driver and a stand-in for what it
// drives (a real agent, an HTTP runbook service, an in-process Kubernetes API server); the
// stand-in reports what really happened to it, so the suite can compare that with what the
// driver says it did.
import { randomUUID } from 'node:crypto';
import { remediationAction, type ActionParameters, type RemediationAction, type RemediationRuntime } from '@autoheal/contracts';
import { DriverError } from '../drivers/driver.errors.js';
import { DriverRefusal, performChecked, type DriverCommand, type DriverEffect, type DriverResult, type RemediationDriver, type RemediationTarget } from '../drivers/remediation-driver.js';

export interface DriverTarget extends RemediationTarget {
  runtime: RemediationRuntime;
}

export interface ConformanceSubject {
  driver: RemediationDriver;
  /** A target the stand-in runs, fresh for each call where the stand-in can make one, so that tests do not see each other's effects. */
  target(action: RemediationAction): Promise<DriverTarget>;
  /** A target of the same runtime that the stand-in does not know. */
  unknownTarget(): DriverTarget;
  /** Parameters the action needs against this stand-in (a release it has, a region it serves). */
  parametersFor(action: RemediationAction): ActionParameters;
  /** Every effect the stand-in itself saw for this remediation, in the drivers' vocabulary, in order. */
  observedEffects(remediationId: string): Promise<DriverEffect[]>;
  /**
   * Makes the target stop answering (the stand-in hangs); the returned function undoes it. The
   * driver must then give up with a DriverError within its own timeout, not wait forever.
   */
  silence(target: DriverTarget): Promise<() => Promise<void>>;
}

function command(target: DriverTarget, action: RemediationAction, parameters: ActionParameters, remediationId = randomUUID()): DriverCommand {
  return { ...target, remediationId, action, parameters };
}

function describeResult(result: DriverResult): string {
  return JSON.stringify(result, null, 2);
}

/** Defines the suite for one driver. `subject` is called once, in a beforeAll; `teardown` in the afterAll. */
export function describeDriverConformance(title: string, subject: () => Promise<ConformanceSubject>, teardown: () => Promise<void>): void {
  describe(`${title}: driver conformance`, () => {
    let s: ConformanceSubject;
    beforeAll(async () => {
      s = await subject();
    });
    afterAll(teardown);

    const supported = (): readonly RemediationAction[] => s.driver.actions;

    it('declares the runtime and at least one action', () => {
      expect(['agent', 'kubernetes', 'runbook']).toContain(s.driver.runtime);
      expect(s.driver.actions.length).toBeGreaterThan(0);
    });

    describe.each(remediationAction.options)('%s', (action) => {
      it('does it once and reports exactly what it did, or refuses it as unsupported having done nothing', async () => {
        const target = await s.target(action);
        const cmd = command(target, action, s.parametersFor(action));
        const result = await performChecked(s.driver, cmd);
        const observed = await s.observedEffects(cmd.remediationId);
        if (!supported().includes(action)) {
          expect(result).toMatchObject({ ok: false, error: { code: DriverRefusal.UnsupportedAction } });
          expect(observed).toEqual([]);
          return;
        }
        if (!result.ok) throw new Error(`${action} failed:\n${describeResult(result)}`);
        expect(result.replayed).toBe(false);
        expect(result.effects.length).toBeGreaterThan(0);
        expect(result.effects.map(({ verb, object }) => ({ verb, object }))).toEqual(observed.map(({ verb, object }) => ({ verb, object })));
      });

      it('is idempotent by remediation id: asked again, and twice at once, it reports the first outcome and acts no more', async () => {
        if (!supported().includes(action)) return;
        const target = await s.target(action);
        const cmd = command(target, action, s.parametersFor(action));
        const first = await performChecked(s.driver, cmd);
        if (!first.ok) throw new Error(`${action} failed:\n${describeResult(first)}`);
        const again = await Promise.all([performChecked(s.driver, cmd), performChecked(s.driver, cmd)]);
        for (const result of again) {
          if (!result.ok) throw new Error(`${action} asked again failed:\n${describeResult(result)}`);
          expect(result.replayed).toBe(true);
          expect(result.effects.map(({ verb, object }) => ({ verb, object }))).toEqual(first.effects.map(({ verb, object }) => ({ verb, object })));
        }
        expect((await s.observedEffects(cmd.remediationId)).length).toBe(first.effects.length);
      });

      it('refuses a target its runtime does not know, having done nothing', async () => {
        if (!supported().includes(action)) return;
        const cmd = command(s.unknownTarget(), action, s.parametersFor(action));
        const result = await performChecked(s.driver, cmd);
        expect(result).toMatchObject({ ok: false, error: { code: DriverRefusal.UnknownTarget } });
        expect(await s.observedEffects(cmd.remediationId)).toEqual([]);
      });
    });

    it('refuses an action whose parameters are missing, having done nothing', async () => {
      const needing = supported().filter((a) => a === 'scale_out' || a === 'failover' || a === 'rollback' || a === 'throttle');
      for (const action of needing) {
        const cmd = command(await s.target(action), action, {});
        const result = await performChecked(s.driver, cmd);
        expect(result).toMatchObject({ ok: false, error: { code: DriverRefusal.InvalidParameters } });
        expect(await s.observedEffects(cmd.remediationId)).toEqual([]);
      }
    });

    it('is bounded in time: a target that never answers makes it give up with a DriverError', async () => {
      const action = supported()[0];
      const target = await s.target(action);
      const restore = await s.silence(target);
      try {
        const outcome = await performChecked(s.driver, command(target, action, s.parametersFor(action))).then(
          (result) => ({ settled: 'resolved' as const, result }),
          (error: unknown) => ({ settled: 'rejected' as const, error }),
        );
        if (outcome.settled === 'resolved') throw new Error(`expected a DriverError from a silent target, got:\n${describeResult(outcome.result)}`);
        expect(outcome.error).toBeInstanceOf(DriverError);
      } finally {
        await restore();
      }
    });
  });
}
