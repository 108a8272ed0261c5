// The conformance suite every remediation driver passes (excluded from the build). A driver's
// integration spec calls describeDriverConformance with the driver and a stand-in for what it
// drives (a real agent, an HTTP runbook service, an in-process Kubernetes API server); the
// stand-in reports what really happened to it, so the suite can compare that with what the
// driver says it did.
import { randomUUID } from 'node:crypto';
import { ACTION_PARAMETERS, remediationAction, RUNTIME_ACTIONS, type ActionParameters, type RemediationAction, type RemediationRuntime } from '@autoheal/contracts';
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

/**
 * Defines the suite for one driver of `runtime`: every action the contracts give that runtime
 * (RUNTIME_ACTIONS) is carried out, replayed and refused for an unknown target; every other one
 * is refused as unsupported. `subject` is called once, in a beforeAll; `teardown` in the afterAll.
 */
export function describeDriverConformance(
  title: string,
  runtime: RemediationRuntime['kind'],
  subject: () => Promise<ConformanceSubject>,
  teardown: () => Promise<void>,
): void {
  const supported: readonly RemediationAction[] = RUNTIME_ACTIONS[runtime];
  const unsupported = remediationAction.options.filter((a) => !supported.includes(a));
  describe(`${title}: driver conformance`, () => {
    let s: ConformanceSubject;
    beforeAll(async () => {
      s = await subject();
    });
    afterAll(teardown);

    it(`is the ${runtime} driver and declares exactly the actions the contracts give ${runtime}`, () => {
      expect(s.driver.runtime).toBe(runtime);
      expect([...s.driver.actions]).toEqual([...supported]);
    });

    describe.each(supported)('%s', (action) => {
      it('does it once and reports exactly what it did', async () => {
        const target = await s.target(action);
        const cmd = command(target, action, s.parametersFor(action));
        const result = await performChecked(s.driver, cmd);
        if (!result.ok) throw new Error(`${action} failed:\n${describeResult(result)}`);
        expect(result.replayed).toBe(false);
        expect(result.effects.length).toBeGreaterThan(0);
        const observed = await s.observedEffects(cmd.remediationId);
        expect(result.effects.map(({ verb, object }) => ({ verb, object }))).toEqual(observed.map(({ verb, object }) => ({ verb, object })));
      });

      it('is idempotent by remediation id: asked again, and twice at once, it reports the first outcome and acts no more', async () => {
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
        const cmd = command(s.unknownTarget(), action, s.parametersFor(action));
        const result = await performChecked(s.driver, cmd);
        expect(result).toMatchObject({ ok: false, error: { code: DriverRefusal.UnknownTarget } });
        expect(await s.observedEffects(cmd.remediationId)).toEqual([]);
      });

      if (ACTION_PARAMETERS[action].length > 0) {
        it('refuses it without the parameters it needs, having done nothing', async () => {
          const cmd = command(await s.target(action), action, {});
          const result = await performChecked(s.driver, cmd);
          expect(result).toMatchObject({ ok: false, error: { code: DriverRefusal.InvalidParameters } });
          expect(await s.observedEffects(cmd.remediationId)).toEqual([]);
        });
      }
    });

    if (unsupported.length > 0) {
      describe.each(unsupported)('%s (not for this runtime)', (action) => {
        it('refuses it as unsupported, having done nothing', async () => {
          const cmd = command(await s.target(supported[0]), action, s.parametersFor(action));
          const result = await performChecked(s.driver, cmd);
          expect(result).toMatchObject({ ok: false, error: { code: DriverRefusal.UnsupportedAction } });
          expect(await s.observedEffects(cmd.remediationId)).toEqual([]);
        });
      });
    }

    it('is bounded in time: a target that never answers makes it give up with a DriverError', async () => {
      const action = supported[0];
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
