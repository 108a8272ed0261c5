import type { AgentCommandFailureCode, AgentCommandRequest, AgentEffect } from '@autoheal/contracts';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { PREVIOUS_RELEASE, type Release } from '../config/agent-config.js';
import { freePort, type FleetSupervisor } from '../supervisor/fleet-supervisor.js';
import type { ManagedInstance } from '../supervisor/managed-instance.js';
import { waitForReady, type Readiness } from '../supervisor/readiness.js';
import { moveTraffic } from './traffic-move.js';
import { armSwitchover, claimArmedHeal } from './armed-switchover.js';
import type { SwitchoverArms } from './switchover-arms.js';

export type ActionResult = { ok: true; effects: AgentEffect[] } | { ok: false; code: AgentCommandFailureCode; message: string };

export interface ActionContext {
  supervisor: FleetSupervisor;
  clock: Clock;
  /** How long a new process has to pass its service's ready probe. */
  readyTimeoutMs: number;
  /** How long an instance has to acknowledge a throttle limit. */
  ackTimeoutMs: number;
  logger: Logger;
  /** The armed switchovers this agent holds (arm_switchover), and the switches made under them. */
  arms: SwitchoverArms;
}

/**
 * Carries one verified command out on the instance it names (every action; a failover arrives
 * instead on the failover subject, at the agent keeping the standby: see failover below). Each action reports exactly the
 * changes it made, in order; the caller makes it happen once per remediation id.
 */
export async function carryOut(ctx: ActionContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  switch (request.action) {
    case 'restart':
      return instance.exclusive(async () => (await claimArmedHeal(ctx, instance, request)) ?? switchToSpare(ctx, instance, request) ?? restartOn(ctx, instance, request, instance.release));
    case 'rollback':
      return instance.exclusive(() => rollback(ctx, instance, request));
    case 'replace':
      return instance.exclusive(async () => (await claimArmedHeal(ctx, instance, request)) ?? switchToSpare(ctx, instance, request) ?? replace(ctx, instance, request));
    case 'scale_out':
      return ctx.supervisor.exclusiveForService(instance.ref, () => scaleOut(ctx, instance, request));
    case 'scale_in':
      return ctx.supervisor.exclusiveForService(instance.ref, () => scaleIn(ctx, instance, request));
    case 'throttle':
      return instance.exclusive(() => throttle(ctx, instance, request));
    case 'arm_switchover':
      return armSwitchover(ctx, instance, request);
    case 'failover':
      return {
        ok: false,
        code: 'unsupported_action',
        message: `a failover is taken by the agent keeping the standby in the target region, on agent.failover.<region>.${request.tenantId}.${request.service}.${request.instance}, not by the instance's own agent`,
      };
  }
}

/**
 * failover into this agent's region, for the standby of the target's service it keeps: starts
 * every standby instance that is not running (a cold standby, or one that died), waits until each
 * passes its ready probe (the running ones of a warm standby too), moves the service's traffic as
 * the config says, then promotes the standby's processes, silent until then, so that they report
 * health as the instances (their heartbeats verify the failover, and only once traffic moved).
 * Reports `started <instance>` for each process started, `routed <service>`, then `promoted
 * <instance>` for each. The caller has checked the region. Serialized per service.
 */
export async function failover(ctx: ActionContext, request: AgentCommandRequest): Promise<ActionResult> {
  const standby = ctx.supervisor.standbyOf(request);
  if (!standby) return { ok: false, code: 'unknown_instance', message: `this agent keeps no standby of ${request.tenantId}/${request.service}` };
  return ctx.supervisor.exclusiveForService(request, async () => {
    const effects: AgentEffect[] = [];
    const instances = ctx.supervisor.instancesOf(request);
    for (const instance of instances) {
      let pid = instance.pid;
      if (pid === null) {
        try {
          // Silent until the traffic has moved: its heartbeats are what verifies the failover.
          pid = instance.start('spare');
        } catch (error) {
          return { ok: false, code: 'spawn_failed', message: error instanceof Error ? error.message : String(error) };
        }
        instance.recordRemediation(request.remediationId);
        instance.report(request.remediationId, 'started', pid);
        effects.push({ verb: 'started', object: instance.ref.instance, detail: { pid, port: instance.port, release: instance.release.version } });
      }
      const readiness = await waitForReady({ port: instance.processPort, pid, probe: standby.ready, timeoutMs: ctx.readyTimeoutMs, exited: instance.exited });
      // Started processes stay: a retry of the remediation finds them running and only waits.
      if (readiness !== 'ready') return notReady(ctx, request, pid, readiness, ` (standby ${instance.ref.instance})`);
    }
    const region = request.parameters.toRegion as string;
    const to = { tenantId: request.tenantId, service: request.service, region, remediationId: request.remediationId, instances: instances.map((i) => ({ instance: i.ref.instance, port: i.port })) };
    const moved = await moveTraffic(standby.standby.traffic, to);
    if (!moved.ok) {
      ctx.logger.error({ remediationId: request.remediationId, region, reason: moved.message }, 'failover: standby ready, traffic not moved');
      return { ok: false, code: 'traffic_not_moved', message: `the standby in ${region} is ready but its traffic was not moved: ${moved.message}` };
    }
    const detail = { ...moved.detail, toRegion: region, from: request.instance, instances: to.instances };
    ctx.supervisor.announce({ remediationId: request.remediationId, verb: 'routed', ref: instances[0].ref, object: request.service, detail });
    ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, region, instances: to.instances }, 'failed over');
    effects.push({ verb: 'routed', object: request.service, detail });
    // The standby's processes ran silent: from now on they report health as the instances.
    for (const instance of instances) {
      if (instance.promote(request.remediationId)) effects.push({ verb: 'promoted', object: instance.ref.instance, detail: { pid: instance.pid } });
    }
    return { ok: true, effects };
  });
}

/** The release `toRelease` names for this instance: a version of its service, or `previous` (the one before the release it runs). */
export function resolveRelease(history: readonly Release[], current: Release, toRelease: string): Release | { problem: string } {
  if (toRelease === PREVIOUS_RELEASE) {
    const at = history.findIndex((r) => r.version === current.version);
    if (at <= 0) return { problem: `parameters.toRelease: no release before ${current.version} (releases: ${history.map((r) => r.version).join(', ')})` };
    return history[at - 1];
  }
  const found = history.find((r) => r.version === toRelease);
  if (!found) return { problem: `parameters.toRelease: unknown release ${toRelease} (releases: ${history.map((r) => r.version).join(', ')})` };
  if (found.version === current.version) return { problem: `parameters.toRelease: the instance already runs ${toRelease}` };
  return found;
}

/** The name a scale_out gives its new instance: `<service>-<n>`, the smallest n not taken. */
export function nextInstanceName(service: string, taken: readonly string[]): string {
  for (let n = 1; ; n++) {
    const name = `${service}-${n}`;
    if (!taken.includes(name)) return name;
  }
}

/** restart (same release) or rollback (another): SIGKILL, start on the same port, wait until the new pid answers. */
async function restartOn(ctx: ActionContext, instance: ManagedInstance, request: AgentCommandRequest, release: Release): Promise<ActionResult> {
  const rollingBack = release.version !== instance.release.version;
  let started: Awaited<ReturnType<ManagedInstance['restartOn']>>;
  try {
    started = await instance.restartOn(release, request.remediationId);
  } catch (error) {
    ctx.logger.error({ ...request, err: error }, `${request.action}: spawn failed`);
    return { ok: false, code: 'spawn_failed', message: error instanceof Error ? error.message : String(error) };
  }
  const readiness = await waitForReady({ port: instance.processPort, pid: started.pid, probe: ctx.supervisor.readyProbeOf(instance.ref), timeoutMs: ctx.readyTimeoutMs, exited: instance.exited });
  if (readiness !== 'ready') return notReady(ctx, request, started.pid, readiness);
  ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, previousPid: started.previousPid, instancePid: started.pid, release: release.version }, request.action);
  const effect: AgentEffect = rollingBack
    ? { verb: 'rolled_back', object: instance.ref.instance, detail: { pid: started.pid, fromRelease: started.previousRelease, toRelease: release.version } }
    : { verb: 'restarted', object: instance.ref.instance, detail: { pid: started.pid, previousPid: started.previousPid } };
  return { ok: true, effects: [effect] };
}

async function rollback(ctx: ActionContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  const toRelease = request.parameters.toRelease;
  if (toRelease === undefined) return { ok: false, code: 'invalid_parameters', message: 'rollback needs parameters.toRelease' };
  const release = resolveRelease(ctx.supervisor.releasesOf(instance.ref), instance.release, toRelease);
  if ('problem' in release) return { ok: false, code: 'invalid_parameters', message: release.problem };
  return restartOn(ctx, instance, request, release);
}

/**
 * restart and replace when the instance's service keeps a ready warm spare of the release the
 * instance runs: its front is switched to the spare and the old process SIGKILLed (see
 * ManagedInstance.switchTo); the pool starts a new spare in the background. Null when no spare
 * is ready: the caller then restarts or replaces as without spares.
 */
function switchToSpare(ctx: ActionContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> | null {
  if (!instance.fronted) return null;
  // take() and switchTo() run in the same tick: the spare cannot exit unwatched in between.
  const spare = ctx.supervisor.sparesOf(instance.ref)?.take(instance.release.version);
  if (!spare) return null;
  return (async (): Promise<ActionResult> => {
    const switched = await instance.switchTo(spare, request.remediationId);
    const object = instance.ref.instance;
    const effects: AgentEffect[] = [{ verb: 'routed', object, detail: { to: { pid: switched.pid, port: switched.port }, previousPid: switched.previousPid } }];
    if (switched.previousPid !== null) effects.push({ verb: 'stopped', object, detail: { pid: switched.previousPid } });
    ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, previousPid: switched.previousPid, instancePid: switched.pid }, `${request.action}: switched to a warm spare`);
    return { ok: true, effects };
  })();
}

/** A fresh process of the same release on a new port; the old one is stopped only once the new one answers. */
async function replace(ctx: ActionContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  let replaced: Awaited<ReturnType<ManagedInstance['replaceOn']>>;
  try {
    replaced = await instance.replaceOn(await freePort(), request.remediationId, (pid, port, exited) =>
      waitForReady({ port, pid, probe: ctx.supervisor.readyProbeOf(instance.ref), timeoutMs: ctx.readyTimeoutMs, exited }),
    );
  } catch (error) {
    ctx.logger.error({ ...request, err: error }, 'replace: spawn failed; the old process is untouched');
    return { ok: false, code: 'spawn_failed', message: error instanceof Error ? error.message : String(error) };
  }
  if (replaced.readiness !== 'ready') return notReady(ctx, request, replaced.pid, replaced.readiness, ' (the old process is untouched)');
  const object = instance.ref.instance;
  const effects: AgentEffect[] = [{ verb: 'started', object, detail: { pid: replaced.pid, port: instance.processPort, release: instance.release.version } }];
  if (replaced.previousPid !== null) effects.push({ verb: 'stopped', object, detail: { pid: replaced.previousPid, port: replaced.previousPort } });
  ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, previousPid: replaced.previousPid, instancePid: replaced.pid, port: instance.port }, 'replaced');
  return { ok: true, effects };
}

/** One more instance of the service, on the release the target runs, unless it already runs maxInstances. */
async function scaleOut(ctx: ActionContext, target: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  const planned = request.parameters.maxInstances;
  if (planned === undefined) return { ok: false, code: 'invalid_parameters', message: 'scale_out needs parameters.maxInstances' };
  // The plan's cap, or this host's when its config sets a lower one.
  const maxInstances = Math.min(planned, ctx.supervisor.serviceOf(target.ref).maxInstances ?? planned);
  const siblings = ctx.supervisor.instancesOf(target.ref);
  const running = siblings.filter((i) => i.state !== 'exited').length;
  if (running >= maxInstances) {
    return { ok: false, code: 'at_capacity', message: `${target.ref.tenantId}/${target.ref.service} already runs ${running} instance(s), maxInstances ${maxInstances}` };
  }
  const name = nextInstanceName(target.ref.service, siblings.map((i) => i.ref.instance));
  const added = await ctx.supervisor.add({ ...target.ref, instance: name }, target.release);
  let pid: number;
  try {
    pid = added.start();
  } catch (error) {
    ctx.supervisor.forget(added.ref);
    return { ok: false, code: 'spawn_failed', message: error instanceof Error ? error.message : String(error) };
  }
  added.recordRemediation(request.remediationId);
  added.report(request.remediationId, 'started', pid);
  const readiness = await waitForReady({ port: added.port, pid, probe: ctx.supervisor.readyProbeOf(added.ref), timeoutMs: ctx.readyTimeoutMs, exited: added.exited });
  if (readiness !== 'ready') {
    await added.stop();
    added.report(request.remediationId, 'stopped', pid);
    ctx.supervisor.forget(added.ref);
    return notReady(ctx, request, pid, readiness, ` (new instance ${name} removed)`);
  }
  ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, newInstance: name, instancePid: pid, port: added.port }, 'scaled out');
  return { ok: true, effects: [{ verb: 'started', object: name, detail: { pid, port: added.port, release: added.release.version, instances: running + 1 } }] };
}

/**
 * Stops the instances scale_out added to the service (those its config does not declare), newest
 * first, while the service runs more than its floor: the instances the config declares, and
 * never fewer than `parameters.minInstances`. A declared instance is never stopped. Nothing above
 * the floor (the added instances are gone already, say after this agent restarted): done, with
 * no effect.
 */
async function scaleIn(ctx: ActionContext, target: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  const minInstances = request.parameters.minInstances;
  if (minInstances === undefined) return { ok: false, code: 'invalid_parameters', message: 'scale_in needs parameters.minInstances' };
  const declared = new Set(ctx.supervisor.serviceOf(target.ref).instances.map((i) => i.name));
  const floor = Math.max(minInstances, declared.size);
  const siblings = ctx.supervisor.instancesOf(target.ref);
  let count = siblings.length;
  const effects: AgentEffect[] = [];
  // instancesOf lists them in the order they were added: the newest last.
  for (const added of siblings.filter((i) => !declared.has(i.ref.instance)).reverse()) {
    if (count <= floor) break;
    const stopped = await added.exclusive(async () => {
      const pid = added.pid;
      await added.stop();
      if (pid !== null) added.report(request.remediationId, 'stopped', pid);
      ctx.supervisor.forget(added.ref);
      return pid;
    });
    count -= 1;
    // An added instance whose process had exited already is only forgotten: no process was stopped.
    if (stopped !== null) effects.push({ verb: 'stopped', object: added.ref.instance, detail: { pid: stopped, instances: count } });
  }
  ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, stopped: effects.map((e) => e.object), instances: count }, 'scaled in');
  return { ok: true, effects };
}

/** Hands the instance its limit over IPC and waits for its acknowledgement. */
async function throttle(ctx: ActionContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  const { limitPerSecond, ttlMs } = request.parameters;
  if (limitPerSecond === undefined || ttlMs === undefined) return { ok: false, code: 'invalid_parameters', message: 'throttle needs parameters.limitPerSecond, parameters.ttlMs' };
  if (ctx.supervisor.serviceOf(instance.ref).throttle === 'none') {
    return { ok: false, code: 'unsupported_action', message: `${instance.ref.tenantId}/${instance.ref.service} takes no throttle (its config says throttle: none)` };
  }
  if (instance.state === 'exited') return { ok: false, code: 'not_acknowledged', message: `${instance.describe()} runs no process to throttle` };
  const expiresAt = new Date(ctx.clock.now().getTime() + ttlMs).toISOString();
  const ack = await instance.throttle({ type: 'autoheal.throttle', remediationId: request.remediationId, limitPerSecond, expiresAt }, ctx.ackTimeoutMs);
  if (!ack) return { ok: false, code: 'not_acknowledged', message: `${instance.describe()} did not acknowledge the limit within ${ctx.ackTimeoutMs} ms` };
  if (!ack.ok) return { ok: false, code: 'not_acknowledged', message: `${instance.describe()} refused the limit: ${ack.error}` };
  ctx.logger.info({ remediationId: request.remediationId, commandId: request.commandId, limitPerSecond, appliedUntil: ack.appliedUntil }, 'throttled');
  return { ok: true, effects: [{ verb: 'throttled', object: instance.ref.instance, detail: { limitPerSecond, appliedUntil: ack.appliedUntil } }] };
}

function notReady(ctx: ActionContext, request: AgentCommandRequest, pid: number, readiness: Exclude<Readiness, 'ready'>, note = ''): ActionResult {
  switch (readiness) {
    case 'exited':
      ctx.logger.error({ remediationId: request.remediationId, instancePid: pid }, `${request.action}: new process exited before it was ready`);
      return { ok: false, code: 'spawn_failed', message: `pid ${pid} exited before answering GET ${ctx.supervisor.readyProbeOf(request).path}${note}` };
    case 'timeout':
      ctx.logger.error({ remediationId: request.remediationId, instancePid: pid, readyTimeoutMs: ctx.readyTimeoutMs }, `${request.action}: new process not ready in time`);
      return { ok: false, code: 'not_ready', message: `pid ${pid} did not answer GET ${ctx.supervisor.readyProbeOf(request).path} within ${ctx.readyTimeoutMs} ms${note}` };
  }
}
