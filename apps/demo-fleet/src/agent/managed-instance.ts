import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../logger.js';
import type { InstanceRef } from '../fleet/fleet-file.js';
import type { Degradation, DegradeMessage } from '../api-server/degradation.js';

export type InstanceState = 'running' | 'exited' | 'hung';

export interface InstanceStatus {
  tenantId: string;
  service: string;
  instance: string;
  /** Null when no process is running. */
  pid: number | null;
  port: number;
  state: InstanceState;
  /** The fault the current process was told to simulate (chaos errors|slow|leak); null when none. */
  degradation: Degradation | null;
  restarts: number;
  lastRestartRemediationId: string | null;
  /** How the last process ended, when it has. */
  lastExit: { code: number | null; signal: string | null } | null;
}

/** Starts the process of one instance; the agent spawns node, tests may spawn anything. */
export type LaunchInstance = (ref: InstanceRef, port: number) => ChildProcess;

/** Told when a process ends that the agent did not end on purpose (a chaos kill counts as a crash). */
export type CrashListener = (ref: InstanceRef, exit: { code: number | null; signal: string | null }) => void;

const KILL_WAIT_MS = 5_000;

/**
 * One instance and its current process. It never restarts on its own: a process that dies
 * stays dead until someone asks for a restart, because healing is autoheal's job.
 */
export class ManagedInstance {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();
  /** Why the agent is ending the current process, when it is the one doing it. */
  private ending: 'stop' | 'restart' | 'chaos' | undefined;
  private hung = false;
  private degradation: Degradation | null = null;
  private restartCount = 0;
  private lastRemediationId: string | null = null;
  private lastExit: InstanceStatus['lastExit'] = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly ref: InstanceRef,
    readonly port: number,
    private readonly launch: LaunchInstance,
    private readonly logger: Logger,
    private readonly onCrash: CrashListener = () => undefined,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
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
      state: this.state,
      degradation: this.degradation,
      restarts: this.restartCount,
      lastRestartRemediationId: this.lastRemediationId,
      lastExit: this.lastExit,
    };
  }

  /** Runs `fn` after every earlier call has finished: restarts and chaos on one instance never interleave. */
  exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Spawns a process if none runs. Throws when the process could not be created at all. */
  start(): number {
    if (this.child) return this.child.pid as number;
    const child = this.launch(this.ref, this.port);
    if (child.pid === undefined) {
      // spawn() reports failures such as ENOENT asynchronously; swallow that event, we report here.
      child.once('error', () => undefined);
      throw new Error(`could not spawn ${this.describe()}`);
    }
    this.child = child;
    this.hung = false;
    // A new process starts healthy: a restart clears whatever the old one simulated.
    this.degradation = null;
    this.ending = undefined;
    this.exitedPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          this.degradation = null;
        }
        this.hung = false;
        this.lastExit = { code, signal };
        const fields = { ...this.ref, instancePid: child.pid, code, signal };
        if (this.ending) this.logger.info({ ...fields, reason: this.ending }, 'instance ended by the agent');
        else this.logger.warn(fields, 'instance exited on its own; left down for autoheal to heal');
        // A stop or a restart is the agent's own doing; anything else is what a supervisor reports.
        if (this.ending !== 'stop' && this.ending !== 'restart') this.onCrash(this.ref, { code, signal });
        resolve();
      });
    });
    child.on('error', (error) => this.logger.error({ ...this.ref, err: error }, 'instance process error'));
    this.logger.info({ ...this.ref, instancePid: child.pid, port: this.port }, 'instance started');
    return child.pid;
  }

  /** Records that the process now running was started for this remediation. */
  recordRestart(remediationId: string): void {
    this.restartCount += 1;
    this.lastRemediationId = remediationId;
  }

  /** SIGKILL, also for a stopped (hung) process, and wait until it is gone and its port is free. */
  async kill(reason: 'restart' | 'chaos'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.ending = reason;
    const exited = this.exitedPromise;
    child.kill('SIGKILL');
    await withTimeout(exited, KILL_WAIT_MS, `${this.describe()} did not exit after SIGKILL`);
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

  /** Graceful stop: SIGTERM (after SIGCONT, or a stopped process would never see it), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.ending = 'stop';
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
