import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../logger.js';
import type { InstanceRef, Release } from '../config/agent-config.js';
import type { AgentInstanceState, AgentInstanceStatus, Degradation, DegradeMessage, PromoteMessage } from '@autoheal/contracts';
import { supervisorThrottleAck, type SupervisorThrottleAck, type SupervisorThrottleMessage } from '@autoheal/sdk';
import type { FrontProxy } from './front-proxy.js';
import type { Readiness } from './readiness.js';
import type { Spare } from './spare-pool.js';

export type InstanceState = AgentInstanceState;
export type InstanceStatus = AgentInstanceStatus;

/**
 * Starts the process of one instance on a release; the agent spawns node, tests may spawn anything.
 * A `spare` answers HTTP but reports no health until it is promoted to an instance.
 */
export type LaunchInstance = (ref: InstanceRef, port: number, release: Release, role?: 'instance' | 'spare') => ChildProcess;

/** Told when a process ends that the agent did not end on purpose (a chaos kill counts as a crash). */
export type CrashListener = (ref: InstanceRef, exit: { code: number | null; signal: string | null }) => void;

/**
 * One change the agent made to its processes for a remediation, told as it happens (a process
 * spawned, one gone, a limit acknowledged). It is the agent's own account, independent of the
 * reply it later sends: the agent logs it, and a test can compare it with what a driver reported.
 */
export interface InstanceChange {
  remediationId: string;
  verb: 'restarted' | 'started' | 'stopped' | 'rolled_back' | 'throttled' | 'routed' | 'promoted' | 'armed';
  ref: InstanceRef;
  /** What the change is reported on when it is not the instance: the service, for a failover's traffic move or an arm. */
  object?: string;
  detail: Record<string, unknown>;
}
export type ChangeListener = (change: InstanceChange) => void;

/** Why the agent ends a process itself; only an end it did not choose (or a chaos kill) is reported as a crash. */
type EndReason = 'stop' | 'restart' | 'replace' | 'discard' | 'chaos' | 'rollout';

const KILL_WAIT_MS = 5_000;

/**
 * One instance and its current process. It never restarts on its own: a process that dies
 * stays dead until someone asks for a restart, because healing is autoheal's job.
 */
export class ManagedInstance {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();
  /** Why the agent is ending a process, for each one it is ending. */
  private readonly endings = new WeakMap<ChildProcess, EndReason>();
  private hung = false;
  /** The current process is a warm standby's, reporting no health until promoted. */
  private silent = false;
  private degradation: Degradation | null = null;
  private restartCount = 0;
  private lastRemediationId: string | null = null;
  private lastExit: InstanceStatus['lastExit'] = null;
  private queue: Promise<unknown> = Promise.resolve();
  private currentPort: number;
  private currentRelease: Release;

  constructor(
    readonly ref: InstanceRef,
    port: number,
    release: Release,
    private readonly launch: LaunchInstance,
    private readonly logger: Logger,
    private readonly onCrash: CrashListener = () => undefined,
    private readonly onChange: ChangeListener = () => undefined,
    /** The instance's stable front, when its service declares warm spares; `port` is then its process's private port. */
    private readonly front?: FrontProxy,
  ) {
    this.currentPort = port;
    this.currentRelease = release;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Where clients reach the instance: its front's port, which never changes, or else its process's port, which a replace moves. */
  get port(): number {
    return this.front?.port ?? this.currentPort;
  }

  /** The port the current process listens on (behind the front, when there is one). */
  get processPort(): number {
    return this.currentPort;
  }

  get fronted(): boolean {
    return this.front !== undefined;
  }

  get release(): Release {
    return this.currentRelease;
  }

  get state(): InstanceState {
    if (!this.child) return 'exited';
    return this.hung ? 'hung' : 'running';
  }

  /** Resolves when the current process has exited (at once when there is none). */
  get exited(): Promise<void> {
    return this.exitedPromise;
  }

  status(): InstanceStatus {
    return {
      ...this.ref,
      pid: this.pid,
      port: this.port,
      ...(this.front ? { processPort: this.currentPort } : {}),
      release: this.currentRelease.version,
      state: this.state,
      degradation: this.degradation,
      restarts: this.restartCount,
      lastRestartRemediationId: this.lastRemediationId,
      lastExit: this.lastExit,
    };
  }

  /** Runs `fn` after every earlier call has finished: remediations and chaos on one instance never interleave. */
  exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Spawns a process if none runs. Throws when the process could not be created at all. A `spare`
   * process (a warm standby's) reports no health until promote() names it this instance.
   */
  start(role: 'instance' | 'spare' = 'instance'): number {
    if (this.child) return this.child.pid as number;
    const { child, exited } = this.spawn(this.currentPort, this.currentRelease, role);
    this.adopt(child, exited, this.currentPort);
    this.silent = role === 'spare';
    return child.pid as number;
  }

  /**
   * A warm standby's silent process becomes this instance: told over IPC (the contracts'
   * promoteMessage), it starts reporting health under the instance's name. False when the
   * process was not silent (nothing to do) or no process runs.
   */
  promote(remediationId: string): boolean {
    const child = this.child;
    if (!child || !this.silent) return false;
    const promote: PromoteMessage = { type: 'autoheal.promote', instance: this.ref.instance };
    child.send?.(promote, (error) => {
      if (error) this.logger.error({ ...this.ref, err: error, instancePid: child.pid }, 'could not tell the standby it was promoted');
    });
    this.silent = false;
    this.onChange({ remediationId, verb: 'promoted', ref: this.ref, detail: { pid: child.pid } });
    return true;
  }

  /**
   * restart (same release) and rollback (`release`): SIGKILL the current process, start one on
   * the same port. Returns the new pid; throws when it could not be spawned (the old one is gone).
   */
  async restartOn(release: Release, remediationId: string): Promise<{ pid: number; previousPid: number | null; previousRelease: string }> {
    const previousPid = this.pid;
    const wasOn = this.currentRelease;
    const previousRelease = wasOn.version;
    await this.kill('restart');
    this.currentRelease = release;
    let pid: number;
    try {
      pid = this.start();
    } catch (error) {
      // Nothing runs the new release: the instance still counts as on its old one, so that a
      // retried "rollback to previous" means the same release.
      this.currentRelease = wasOn;
      throw error;
    }
    this.recordRemediation(remediationId);
    const rolledBack = release.version !== previousRelease;
    this.onChange({
      remediationId,
      verb: rolledBack ? 'rolled_back' : 'restarted',
      ref: this.ref,
      detail: rolledBack ? { pid, fromRelease: previousRelease, toRelease: release.version } : { pid, previousPid },
    });
    return { pid, previousPid, previousRelease };
  }

  /**
   * A release rolled out by hand (chaos release), not by a remediation: SIGKILL the current
   * process and start one on `release`, on the same port. Not a crash, and not counted as a
   * remediation's restart. Returns the new pid; throws when it could not be spawned.
   */
  async rollOut(release: Release): Promise<{ pid: number; previousRelease: string }> {
    const wasOn = this.currentRelease;
    const child = this.child;
    if (child) await this.end(child, this.exitedPromise, 'rollout');
    this.currentRelease = release;
    try {
      return { pid: this.start(), previousRelease: wasOn.version };
    } catch (error) {
      this.currentRelease = wasOn;
      throw error;
    }
  }

  /**
   * replace: starts a fresh process of the same release on `port` beside the current one, which
   * is not touched until the new one is ready; then the new one becomes the instance's process
   * and the old one is SIGKILLed (not SIGTERMed: its planned-stop announcement would tell the
   * detector that the instance, which lives on, stopped). A new process that is not ready is
   * killed and the old one keeps running.
   */
  async replaceOn(
    port: number,
    remediationId: string,
    ready: (pid: number, port: number, exited: Promise<void>) => Promise<Readiness>,
  ): Promise<{ readiness: Readiness; pid: number; previousPid: number | null; previousPort: number }> {
    const previous = this.child;
    const previousPid = this.pid;
    const previousPort = this.currentPort;
    const fresh = this.spawn(port, this.currentRelease);
    const pid = fresh.child.pid as number;
    this.onChange({ remediationId, verb: 'started', ref: this.ref, detail: { pid, port, release: this.currentRelease.version } });
    const readiness = await ready(pid, port, fresh.exited);
    if (readiness !== 'ready') {
      await this.end(fresh.child, fresh.exited, 'discard');
      this.onChange({ remediationId, verb: 'stopped', ref: this.ref, detail: { pid, reason: `new process ${readiness}` } });
      return { readiness, pid, previousPid, previousPort };
    }
    const previousExited = this.exitedPromise;
    this.adopt(fresh.child, fresh.exited, port);
    this.recordRemediation(remediationId);
    if (previous && previousPid !== null) {
      await this.end(previous, previousExited, 'replace');
      this.onChange({ remediationId, verb: 'stopped', ref: this.ref, detail: { pid: previousPid, port: previousPort } });
    }
    return { readiness, pid, previousPid, previousPort };
  }

  /**
   * restart or replace with a warm spare: the front is switched to the spare (connections to the
   * old process are closed), the spare is told over IPC that it now is this instance (it starts
   * reporting health under its name), and the old process, hung or not, is SIGKILLed and never
   * reused. The spare must be ready and alive; the caller took it from the pool.
   */
  async switchTo(spare: Spare, remediationId: string): Promise<{ pid: number; port: number; previousPid: number | null }> {
    if (!this.front) throw new Error(`${this.describe()} has no front to switch`);
    const previous = this.child;
    const previousPid = this.pid;
    const previousExited = this.exitedPromise;
    this.adopt(spare.child, this.watch(spare.child), spare.port);
    this.recordRemediation(remediationId);
    this.onChange({ remediationId, verb: 'routed', ref: this.ref, detail: { to: { pid: spare.pid, port: spare.port }, previousPid } });
    const promote: PromoteMessage = { type: 'autoheal.promote', instance: this.ref.instance };
    spare.child.send?.(promote, (error) => {
      if (error) this.logger.error({ ...this.ref, err: error, instancePid: spare.pid }, 'could not tell the spare it was promoted');
    });
    if (previous && previousPid !== null) {
      await this.end(previous, previousExited, 'replace');
      this.onChange({ remediationId, verb: 'stopped', ref: this.ref, detail: { pid: previousPid } });
    }
    return { pid: spare.pid, port: spare.port, previousPid };
  }

  /**
   * throttle: sends the limit over the IPC channel and waits (at most `timeoutMs`) for the
   * instance's acknowledgement. Null when no answer came in time (a hung process cannot answer).
   */
  async throttle(message: SupervisorThrottleMessage, timeoutMs: number): Promise<SupervisorThrottleAck | null> {
    const child = this.child;
    if (!child) return null;
    if (!child.send) throw new Error(`${this.describe()} has no IPC channel to send a limit to`);
    const ack = await new Promise<SupervisorThrottleAck | null>((resolve) => {
      const onMessage = (raw: unknown) => {
        // The instance answers with the SDK's acceptSupervisorCommands: its schema, not a copy of it.
        const parsed = supervisorThrottleAck.safeParse(raw);
        if (!parsed.success || parsed.data.remediationId !== message.remediationId) return;
        finish(parsed.data);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (value: SupervisorThrottleAck | null) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(value);
      };
      child.on('message', onMessage);
      child.send(message, (error) => {
        if (error) finish(null);
      });
    });
    if (ack?.ok) {
      this.onChange({
        remediationId: message.remediationId,
        verb: 'throttled',
        ref: this.ref,
        detail: { pid: child.pid, limitPerSecond: message.limitPerSecond, appliedUntil: ack.appliedUntil },
      });
    }
    return ack;
  }

  /** Records that the process now running was started for this remediation. */
  recordRemediation(remediationId: string): void {
    this.restartCount += 1;
    this.lastRemediationId = remediationId;
  }

  /** Tells the change listener about a process started or stopped for a remediation outside restartOn/replaceOn (scale_out). */
  report(remediationId: string, verb: 'started' | 'stopped', pid: number): void {
    this.onChange({ remediationId, verb, ref: this.ref, detail: { pid, port: this.port, release: this.currentRelease.version } });
  }

  /** SIGKILL, also for a stopped (hung) process, and wait until it is gone and its port is free. */
  async kill(reason: 'restart' | 'chaos'): Promise<void> {
    const child = this.child;
    if (!child) return;
    await this.end(child, this.exitedPromise, reason);
  }

  /** SIGSTOP: the process keeps its port and its pid but does nothing, heartbeats included. */
  hang(): boolean {
    if (!this.child) return false;
    this.child.kill('SIGSTOP');
    this.hung = true;
    return true;
  }

  /** SIGCONT. */
  resume(): boolean {
    if (!this.child) return false;
    this.child.kill('SIGCONT');
    this.hung = false;
    return true;
  }

  /**
   * Tells the process, over its IPC channel, to simulate a fault (null: stop simulating).
   * Resolves once the message is handed to the channel; a stopped (hung) process reads it when
   * it resumes. False when no process runs.
   */
  async degrade(degradation: Degradation | null): Promise<boolean> {
    const child = this.child;
    if (!child) return false;
    if (!child.send) throw new Error(`${this.describe()} has no IPC channel to send a degradation to`);
    const message: DegradeMessage = { type: 'degrade', degradation };
    await new Promise<void>((resolve, reject) => {
      child.send(message, (error) => (error ? reject(error) : resolve()));
    });
    this.degradation = degradation;
    return true;
  }

  /** Graceful stop: SIGTERM (after SIGCONT, or a stopped process would never see it), SIGKILL after `timeoutMs`. The front closes too. */
  async stop(timeoutMs = 5_000): Promise<void> {
    await this.front?.close();
    const child = this.child;
    if (!child) return;
    this.endings.set(child, 'stop');
    const exited = this.exitedPromise;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  describe(): string {
    return `${this.ref.tenantId}/${this.ref.service}/${this.ref.instance}`;
  }

  /** Launches a process and watches its exit; it is not the instance's process until adopted. */
  private spawn(port: number, release: Release, role: 'instance' | 'spare' = 'instance'): { child: ChildProcess; exited: Promise<void> } {
    const child = this.launch(this.ref, port, release, role);
    if (child.pid === undefined) {
      // spawn() reports failures such as ENOENT asynchronously; swallow that event, we report here.
      child.once('error', () => undefined);
      throw new Error(`could not spawn ${this.describe()} (release ${release.version})`);
    }
    const exited = this.watch(child);
    this.logger.info({ ...this.ref, instancePid: child.pid, port, release: release.version }, 'instance process started');
    return { child, exited };
  }

  /** Watches a process's exit on behalf of this instance (one it spawned, or a spare it took over). */
  private watch(child: ChildProcess): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        const current = this.child === child;
        if (current) {
          this.child = undefined;
          this.degradation = null;
          this.hung = false;
          this.lastExit = { code, signal };
        }
        const ending = this.endings.get(child);
        const fields = { ...this.ref, instancePid: child.pid, code, signal };
        if (ending) this.logger.info({ ...fields, reason: ending }, 'instance process ended by the agent');
        else this.logger.warn(fields, 'instance exited on its own; left down for autoheal to heal');
        // The agent's own ends are not crashes; anything else is what a supervisor reports.
        if (ending === undefined || ending === 'chaos') this.onCrash(this.ref, { code, signal });
        resolve();
      });
    });
    child.on('error', (error) => this.logger.error({ ...this.ref, err: error }, 'instance process error'));
    return exited;
  }

  private adopt(child: ChildProcess, exited: Promise<void>, port: number): void {
    this.child = child;
    this.exitedPromise = exited;
    this.currentPort = port;
    this.front?.switchTo(port);
    this.hung = false;
    // A new process starts healthy, a restart clears whatever the old one simulated; unless its
    // release itself is known to be bad (the release's `fault`), which no restart clears.
    this.degradation = this.currentRelease.fault ?? null;
  }

  private async end(child: ChildProcess, exited: Promise<void>, reason: EndReason): Promise<void> {
    this.endings.set(child, reason);
    child.kill('SIGKILL');
    await withTimeout(exited, KILL_WAIT_MS, `${this.describe()} (pid ${child.pid}) did not exit after SIGKILL`);
  }
}

function withTimeout(promise: Promise<void>, ms: number, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
