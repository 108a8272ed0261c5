import type { AgentCommandFailureCode, AgentCommandRequest, AgentEffect, RemediationAction } from '@autoheal/contracts';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { PREVIOUS_RELEASE, type Release } from '../config/agent-config.js';
import { freePort, type FleetSupervisor } from '../supervisor/fleet-supervisor.js';
import type { ManagedInstance } from '../supervisor/managed-instance.js';
import { waitForReady, type Readiness } from '../supervisor/readiness.js';

/** The actions this agent carries out; failover needs a second region, which a host agent does not have. */
export const AGENT_ACTIONS = ['restart', 'replace', 'rollback', 'scale_out', 'throttle'] as const satisfies readonly RemediationAction[];

export type ActionResult = { ok: true; effects: AgentEffect[] } | { ok: false; code: AgentCommandFailureCode; message: string };

export interface ActionContext {
  supervisor: FleetSupervisor;
  clock: Clock;
  /** How long a new process has to pass its service's ready probe. */
  readyTimeoutMs: number;
  /** How long an instance has to acknowledge a throttle limit. */
  ackTimeoutMs: number;
  logger: Logger;
}

/**
 * Carries one verified command out on the instance it names. Each action reports exactly the
 * changes it made, in order; the caller makes it happen once per remediation id.
 */
export async function carryOut(ctx: ActionContext, instance: ManagedInstance, request: AgentCommandRequest): Promise<ActionResult> {
  switch (request.action) {
    case 'restart':
      return instance.exclusive(async () => switchToSpare(ctx, instance, request) ?? restartOn(ctx, instance, request, instance.release));
    case 'rollback':
      return instance.exclusive(() => rollback(ctx, instance, request));
    case 'replace':
      return instance.exclusive(async () => switchToSpare(ctx, instance, request) ?? replace(ctx, instance, request));
    case 'scale_out':
      return ctx.supervisor.exclusiveForService(instance.ref, () => scaleOut(ctx, instance, request));
    case 'throttle':
      return instance.exclusive(() => throttle(ctx, instance, request));
    case 'failover':
      return { ok: false, code: 'unsupported_action', message: `this agent cannot ${request.action} (it can ${AGENT_ACTIONS.join(', ')})` };
  }
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
