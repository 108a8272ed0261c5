import type { AgentCommandFailureCode, AgentCommandRequest, AgentEffect } from '@autoheal/contracts';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { instanceKey, type InstanceRef } from '../config/agent-config.js';
import type { FleetSupervisor } from '../supervisor/fleet-supervisor.js';
import type { ManagedInstance } from '../supervisor/managed-instance.js';
import type { SwitchoverArms } from './switchover-arms.js';
import { waitForReady } from '../supervisor/readiness.js';

/** What claimArmedHeal needs of remediation-actions' ActionContext. */
interface ClaimContext extends ArmedSwitchoverContext {
  readyTimeoutMs: number;
}

/**
 * The armed switchover (see the README, *Armed switchover*). The decision to heal a crash of a
 * service on the agent, at once, is taken by the control plane, under the tenant's policy, before
 * the fault: the decision service plans an `arm_switchover`, the executor signs it, and the agent
 * keeps it (SwitchoverArms). When an instance of the service then crashes, the agent makes that
 * one heal at once, without waiting for the incident's round trip through the control plane: a
 * switch to a ready warm spare, or, when the arm allows it (`heals` has `restart`) and no spare is
 * ready, a restart in place on the same release. The incident still opens, and its remediation
 * claims the heal (claimArmedHeal). Without an arm that holds, nothing here acts: a crash waits
 * for autoheal, as always.
 */
export interface ArmedSwitchoverContext {
  supervisor: FleetSupervisor;
  arms: SwitchoverArms;
  clock: Clock;
  logger: Logger;
}

/** As remediation-actions' ActionResult (not imported from there: that module calls this one). */
type ActionResult = { ok: true; effects: AgentEffect[] } | { ok: false; code: AgentCommandFailureCode; message: string };

/** Longest an arm may hold, whatever the command says (the contract caps armTtlMs at an hour too). */
export const MAX_ARM_TTL_MS = 3_600_000;

/**
 * arm_switchover on one instance of the service: keeps the arm for the service (the command path
 * verified it), replacing an older one; with armTtlMs 0, withdraws the service's arm. An arm that
 * allows only the switch is refused for a service that keeps no warm spares (nothing to switch to).
 */
export async function armSwitchover(ctx: ArmedSwitchoverContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  const ttlMs = request.parameters.armTtlMs;
  if (ttlMs === undefined) return { ok: false, code: 'invalid_parameters', message: 'arm_switchover needs parameters.armTtlMs' };
  const heals = request.parameters.armHeals ?? ['switch'];
  const spares = instance.fronted && ctx.supervisor.sparesOf(instance.ref) !== undefined;
  if (ttlMs > 0 && !spares && !heals.includes('restart')) {
    return { ok: false, code: 'unsupported_action', message: `${instance.ref.tenantId}/${instance.ref.service} keeps no warm spares (its config declares no warmSpares) and the arm allows no restart: nothing to arm` };
  }
  // Signed, so keyId is there (verifyCommand refused it otherwise).
  const keyId = request.keyId as string;
  const expiresAt = new Date(Date.parse(request.issuedAt) + Math.min(ttlMs, MAX_ARM_TTL_MS)).toISOString();
  await ctx.arms.arm({ tenantId: request.tenantId, service: request.service, remediationId: request.remediationId, commandId: request.commandId, keyId, issuedAt: request.issuedAt, expiresAt, heals });
  const instances = ctx.supervisor.instancesOf(instance.ref).map((i) => i.ref.instance);
  // armTtlMs 0: a withdrawal; it replaces the arm held (issued later) and is itself lapsed.
  const detail = ttlMs === 0 ? { expiresAt, instances, withdrawn: true } : { expiresAt, instances, heals };
  ctx.supervisor.announce({ remediationId: request.remediationId, verb: 'armed', ref: instance.ref, object: request.service, detail });
  ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, tenantId: request.tenantId, service: request.service, expiresAt }, 'switchover armed');
  return { ok: true, effects: [{ verb: 'armed', object: request.service, detail }] };
}

/**
 * Called as a fronted instance's process is found gone on its own (a crash, a chaos kill): when
 * the service holds an arm and a ready spare of the release the instance runs, uses the arm (one
 * shot) and switches the front to the spare at once. Returns the arm's remediation id, or null
 * when nothing was done (no arm, expired, no ready spare, no front): today's path, nothing on the
 * agent's own. Synchronous up to the switch of the front, so no request finds the dead port for longer than it must.
 */
export function switchUnderArm(ctx: ArmedSwitchoverContext, ref: InstanceRef): string | null {
  const instance = ctx.supervisor.find(ref);
  if (!instance?.fronted || instance.pid !== null) return null;
  const now = ctx.clock.now();
  // Every arm allows the switch: `switch` by name, `restart` because a restart here switches to a ready spare first (remediation-actions).
  if (!ctx.arms.current(ref, now)) return null;
  const spare = ctx.supervisor.sparesOf(ref)?.take(instance.release.version);
  // No ready spare: the arm is kept for a crash that finds one; this one goes the slow way.
  if (!spare) return null;
  const arm = ctx.arms.take(ref, now);
  if (!arm) {
    // Unreachable: current() just said it holds, in the same tick.
    spare.child.kill('SIGKILL');
    return null;
  }
  ctx.arms.recordSwitch(instanceKey(ref), { armRemediationId: arm.remediationId, heal: 'switch', pid: spare.pid, port: spare.port, at: now.toISOString() });
  // switchTo repoints the front before its first await; the old process is gone already.
  instance.switchTo(spare, arm.remediationId).catch((error: unknown) => ctx.logger.error({ ...ref, err: error }, 'armed switchover: the switch failed'));
  ctx.logger.warn({ ...ref, armRemediationId: arm.remediationId, instancePid: spare.pid }, 'crashed instance switched to a warm spare under an armed switchover');
  return arm.remediationId;
}

/**
 * Called as an instance's process is found gone on its own, when switchUnderArm did nothing (no
 * spare was ready, or the service keeps none): when the service holds an arm that allows a
 * restart, uses it (one shot) and starts the instance again at once, same release, same port.
 * Resolves to the arm's remediation id once the new process is spawned (not yet ready: the
 * incident's restart waits for that when it claims this one), or null when nothing was done.
 * Serialized with the instance's commands; the arm is taken only once it is this heal's turn and
 * the instance is still down, so a command that started it meanwhile leaves the arm in place.
 */
export function restartUnderArm(ctx: ArmedSwitchoverContext, ref: InstanceRef): Promise<string | null> {
  const instance = ctx.supervisor.find(ref);
  if (!instance || instance.pid !== null || !ctx.arms.current(ref, ctx.clock.now())?.heals.includes('restart')) return Promise.resolve(null);
  return instance.exclusive(async () => {
    const now = ctx.clock.now();
    if (instance.pid !== null || !ctx.arms.current(ref, now)?.heals.includes('restart')) return null;
    const arm = ctx.arms.take(ref, now);
    if (!arm) return null;
    try {
      const started = await instance.restartOn(instance.release, arm.remediationId);
      ctx.arms.recordSwitch(instanceKey(ref), { armRemediationId: arm.remediationId, heal: 'restart', pid: started.pid, port: instance.processPort, at: now.toISOString() });
      ctx.logger.warn({ ...ref, armRemediationId: arm.remediationId, instancePid: started.pid }, 'crashed instance restarted under an armed switchover');
      return arm.remediationId;
    } catch (error) {
      // The arm is spent: this crash goes the slow way (its restart will try again).
      ctx.logger.error({ ...ref, err: error, armRemediationId: arm.remediationId }, 'armed restart: the spawn failed; left for autoheal');
      return null;
    }
  });
}

/**
 * restart or replace of an instance that an armed switchover has healed since its crash: the
 * heal is this remediation's effect (reported with the arm's remediation id); nothing is done
 * again. A switch is claimed by restart and replace; a restart under an arm by restart only (the
 * decision armed it as the restart it would plan), once the restarted process passes the ready
 * probe, as any restart's reply waits for. Only while the process the heal started still backs
 * the instance and runs (and, for a restart, became ready); null otherwise (a later crash, a hang
 * of the new process, a new process not ready in time: the action is carried out as usual).
 */
export async function claimArmedHeal(ctx: ClaimContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult | null> {
  const made = ctx.arms.claimSwitch(instanceKey(instance.ref));
  if (!made || made.pid !== instance.pid || instance.state !== 'running') return null;
  if (made.heal === 'restart') {
    if (request.action !== 'restart') return null;
    const readiness = await waitForReady({ port: instance.processPort, pid: made.pid, probe: ctx.supervisor.readyProbeOf(instance.ref), timeoutMs: ctx.readyTimeoutMs, exited: instance.exited });
    if (readiness !== 'ready' || instance.pid !== made.pid) return null;
  }
  ctx.logger.info({ remediationId: request.remediationId, armRemediationId: made.armRemediationId, instancePid: made.pid, heal: made.heal }, `${request.action}: the crash was healed already under an armed switchover`);
  const object = instance.ref.instance;
  const effect: AgentEffect =
    made.heal === 'switch'
      ? { verb: 'routed', object, detail: { to: { pid: made.pid, port: made.port }, previousPid: null, underArm: made.armRemediationId, switchedAt: made.at } }
      : { verb: 'restarted', object, detail: { pid: made.pid, previousPid: null, underArm: made.armRemediationId, restartedAt: made.at } };
  return { ok: true, effects: [effect] };
}
