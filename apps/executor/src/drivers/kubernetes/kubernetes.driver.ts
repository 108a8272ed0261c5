import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { RUNTIME_ACTIONS, type RemediationRuntime } from '@autoheal/contracts';
import { CLOCK, type Clock } from '../../clock.js';
import type { ExecutorConfig } from '../../config.js';
import { EXECUTOR_CONFIG } from '../../executor.tokens.js';
import { DriverError, DriverErrorCode } from '../driver.errors.js';
import { DriverRefusal, type DriverCommand, type DriverEffect, type DriverResult, type RemediationDriver } from '../remediation-driver.js';
import { clientsFor, ConflictError, DeadlineBoundCalls, RejectedError, type ClusterClients, type KubeConfigSource } from './kubernetes-cluster.js';
import { leaseHolder, newRecord, readRecords, replay, withRecord, type RemediationRecord } from './remediation-record.js';
import { WorkloadApi } from './workload-api.js';
import { chooseRollback, objectRef, ownsPod, readyPodsOf, rolloutComplete, templateForDeployment, type Workload } from './workload.js';

/** The executor's kubeconfig (or why there is none): provided by the module, a fixed one in tests. */
export const KUBE_CONFIG_SOURCE = Symbol('KUBE_CONFIG_SOURCE');

export type KubernetesDriverConfig = Pick<ExecutorConfig, 'EXECUTOR_KUBERNETES_TIMEOUT_MS'>;

type KubernetesRuntime = Extract<RemediationRuntime, { kind: 'kubernetes' }>;
type Outcome = { ok: true; details: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

/** How often the driver looks again while it waits for pods, a rollout or another remediation's lease. */
const POLL_MS = 200;

/**
 * Carries remediations out on Deployments and StatefulSets through the Kubernetes API (see the
 * executor README's table for what each action does per workload kind, and what is refused).
 *
 * No state in the executor: the workload's `autoheal.io/remediations` annotation is the lock,
 * the progress log and the replay store (remediation-record.ts). One remediation acts on a
 * workload at a time; the others wait for it within their own timeout.
 */
@Injectable()
export class KubernetesDriver implements RemediationDriver {
  readonly name = 'kubernetes';
  readonly runtime = 'kubernetes';
  readonly actions = RUNTIME_ACTIONS.kubernetes;
  private readonly clients = new Map<string, ClusterClients | null>();

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly config: KubernetesDriverConfig,
    @Inject(KUBE_CONFIG_SOURCE) private readonly kubeConfig: KubeConfigSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async perform(command: DriverCommand): Promise<DriverResult> {
    const runtime = command.runtime;
    if (runtime.kind !== 'kubernetes') return refusal(DriverRefusal.NoDriver, `the kubernetes driver does not run ${runtime.kind} targets`);
    if (!this.kubeConfig.ok) return refusal('kubernetes_not_configured', this.kubeConfig.reason);
    const clients = this.clientsFor(runtime.cluster);
    if (!clients) return refusal(DriverRefusal.UnknownTarget, `the executor's kubeconfig has no context ${runtime.cluster ?? '(current)'}`);

    const timeoutMs = this.config.EXECUTOR_KUBERNETES_TIMEOUT_MS;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const calls = new DeadlineBoundCalls(deadline.signal, timeoutMs, clients.context);
    try {
      return await new Remediation(new WorkloadApi(clients, calls, runtime), calls, command, runtime, this.clock, timeoutMs).run();
    } catch (error) {
      if (error instanceof RejectedError) return refusal(rejectionCode(error), error.message);
      if (error instanceof ConflictError) throw new DriverError(DriverErrorCode.Unreachable, `kubernetes context ${clients.context}: ${error.message}`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private clientsFor(context: string | undefined): ClusterClients | null {
    if (!this.kubeConfig.ok) return null;
    const key = context ?? '';
    if (!this.clients.has(key)) this.clients.set(key, clientsFor(this.kubeConfig.config, context));
    return this.clients.get(key) ?? null;
  }
}

/** `kubernetes_forbidden` when the executor's account lacks a permission (see the README's Role), else `kubernetes_rejected`. */
function rejectionCode(error: RejectedError): string {
  return error.status === 401 || error.status === 403 ? 'kubernetes_forbidden' : 'kubernetes_rejected';
}

function refusal(code: string, message: string): DriverResult {
  return { ok: false, error: { code, message } };
}

/** One call of perform: take the workload's lease (or replay), act step by step, record the outcome. */
class Remediation {
  /** This call's nonce in the lease: another call with the same remediation id waits instead of acting. */
  private readonly holder = randomUUID();
  private effects: DriverEffect[] = [];
  private workload!: Workload;
  private pod: V1Pod | null = null;
  /**
   * The workload's pod uids just before this call scaled it up, to tell the new pod. Kept in
   * memory, not in the record (it grows with the replica count); a call resuming after a crash
   * takes the newest ready pod instead.
   */
  private podsBeforeScaleUp: string[] | null = null;

  constructor(
    private readonly api: WorkloadApi,
    private readonly calls: DeadlineBoundCalls,
    private readonly command: DriverCommand,
    private readonly runtime: KubernetesRuntime,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  private get workloadRef(): string {
    return objectRef(this.runtime.workload, this.runtime.name);
  }

  async run(): Promise<DriverResult> {
    const early = await this.claim();
    if (early) return early;
    let outcome: Outcome;
    try {
      outcome = await this.act();
    } catch (error) {
      // Refused for good half-way: recorded, so a retry reports it rather than acting again.
      if (!(error instanceof RejectedError)) throw error;
      outcome = { ok: false, error: { code: rejectionCode(error), message: error.message } };
    }
    await this.writeRecord((record) => ({ ...record, phase: 'done', outcome }));
    if (!outcome.ok) return outcome;
    return { ok: true, effects: this.effects, replayed: false, details: { ...outcome.details, replayed: false } };
  }

  /**
   * Takes the workload's lease for this remediation (resuming its recorded effects after a
   * crash), or returns what to answer instead: the replay of a finished remediation, or a refusal
   * given before anything was done.
   */
  private async claim(): Promise<DriverResult | null> {
    const { remediationId, action } = this.command;
    for (;;) {
      const workload = await this.api.read();
      if (!workload) return refusal(DriverRefusal.UnknownTarget, `no ${this.runtime.workload} ${this.runtime.namespace}/${this.runtime.name}`);
      const records = readRecords(workload.object.metadata?.annotations);
      const mine = records.find((r) => r.id === remediationId);
      if (mine?.phase === 'done') return replay(mine);
      const holder = leaseHolder(records, this.clock.now());
      if (holder) {
        await this.calls.pause(POLL_MS, `remediation ${holder.id} holds ${this.workloadRef}`);
        continue;
      }

      const unsupported = unsupportedFor(workload.kind, action);
      if (unsupported) return refusal(DriverRefusal.UnsupportedAction, unsupported);
      const pod = await this.api.readPod(this.command.instance);
      const replicaSets = await this.api.listReplicaSets(workload);
      // A remediation resuming after a crash may already have stopped its pod. A scale-in acts on
      // the workload, not on the pod its incident named (long gone, perhaps): the workload suffices.
      if (!mine && action !== 'scale_in' && !(pod && ownsPod(workload, pod, replicaSets))) {
        return refusal(DriverRefusal.UnknownTarget, `pod ${this.runtime.namespace}/${this.command.instance} is not a pod of ${this.workloadRef}`);
      }

      const leaseUntil = new Date(this.clock.now().getTime() + this.timeoutMs);
      const record = newRecord(remediationId, action, this.holder, leaseUntil, mine?.effects ?? []);
      try {
        await this.api.patch(workload, withRecord(workload.object.metadata?.annotations, record));
      } catch (error) {
        if (error instanceof ConflictError) continue; // changed since read (another caller, the controller): read again
        throw error;
      }
      this.effects = record.effects;
      this.workload = workload;
      this.pod = pod && ownsPod(workload, pod, replicaSets) ? pod : null;
      return null;
    }
  }

  /**
   * Read-modify-write of this remediation's record (and of the pod template `template` returns
   * for the workload as read, in the same update), retried on conflicts; refuses to write once
   * another call holds the lease.
   */
  private async writeRecord(update: (record: RemediationRecord) => RemediationRecord, template?: (workload: Workload) => V1PodTemplateSpec): Promise<Workload> {
    for (;;) {
      const workload = await this.api.read();
      if (!workload) throw new DriverError(DriverErrorCode.InvalidReply, `${this.workloadRef} disappeared during remediation ${this.command.remediationId}`);
      const mine = readRecords(workload.object.metadata?.annotations).find((r) => r.id === this.command.remediationId);
      if (!mine || mine.holder !== this.holder) {
        throw new DriverError(DriverErrorCode.Timeout, `remediation ${this.command.remediationId} lost its lease on ${this.workloadRef} (it outlived its timeout)`);
      }
      const newTemplate = template?.(workload);
      try {
        await this.api.patch(workload, withRecord(workload.object.metadata?.annotations, update(mine)), newTemplate);
        return workload;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
  }

  /** Records an effect the moment it is made, so that a retry resumes after it. */
  private async recorded(effect: DriverEffect, template?: (workload: Workload) => V1PodTemplateSpec): Promise<void> {
    const effects = [...this.effects, effect];
    await this.writeRecord((record) => ({ ...record, effects }), template);
    this.effects = effects;
  }

  private done(verb: DriverEffect['verb'], matching: (effect: DriverEffect) => boolean = () => true): DriverEffect | undefined {
    return this.effects.find((e) => e.verb === verb && matching(e));
  }

  private act(): Promise<Outcome> {
    switch (this.command.action) {
      case 'restart':
        return this.restart();
      case 'replace':
        return this.replace();
      case 'scale_out':
        return this.scaleOut();
      case 'rollback':
        return this.rollback();
      case 'scale_in':
        return this.scaleIn();
      case 'failover':
      case 'throttle':
      case 'arm_switchover':
        return Promise.resolve({ ok: false, error: { code: DriverRefusal.UnsupportedAction, message: `the kubernetes driver cannot ${this.command.action}` } });
      default: {
        const never: never = this.command.action;
        throw new Error(`unknown action ${String(never)}`);
      }
    }
  }

  /** Deletes the pod; its controller starts a fresh one. Done when the workload is back to its desired ready count. */
  private async restart(): Promise<Outcome> {
    let restarted = this.done('restarted');
    if (!restarted) {
      const pod = this.pod;
      if (!pod) return { ok: false, error: { code: DriverRefusal.UnknownTarget, message: `pod ${this.command.instance} is gone` } };
      const gone = await this.deletePod(pod);
      if (gone) return gone;
      restarted = { verb: 'restarted', object: objectRef('Pod', this.command.instance), detail: { uid: pod.metadata?.uid } };
      await this.recorded(restarted);
    }
    const ready = await this.waitForReadyPods([uidIn(restarted) ?? '']);
    return { ok: true, details: { pod: this.command.instance, readyReplicas: ready.length } };
  }

  /**
   * A fresh pod first, the old one stopped only once it is ready, never modified: scale up by one,
   * wait for the extra ready pod, delete the old pod, scale back down by one. (StatefulSets are
   * refused: a fresh pod cannot run beside the old one under the same identity.)
   */
  private async replace(): Promise<Outcome> {
    const old = this.pod;
    const oldUid = uidIn(this.done('stopped')) ?? old?.metadata?.uid ?? '';
    const scaledDown = () => this.done('scaled', (e) => Number(e.detail?.to) < Number(e.detail?.from));
    if (!this.done('scaled')) await this.scaleBy(+1);
    const started = this.done('started') ?? (await this.recordStartedPod([oldUid]));
    if (!this.done('stopped')) {
      const gone = old ? await this.deletePod(old) : { ok: false as const, error: { code: DriverRefusal.UnknownTarget, message: `pod ${this.command.instance} is gone` } };
      if (gone) {
        // Someone else removed the old pod meanwhile: give the extra replica back, and say so.
        if (!scaledDown()) await this.scaleBy(-1);
        return gone;
      }
      await this.recorded({ verb: 'stopped', object: objectRef('Pod', this.command.instance), detail: { uid: oldUid } });
    }
    // Right after the delete: the sooner the count is back, the less the ReplicaSet replaces the old pod in between.
    if (!scaledDown()) await this.scaleBy(-1);
    const ready = await this.waitForReadyPods([oldUid]);
    return { ok: true, details: { stopped: this.command.instance, started: started.object.replace(/^pod\//, ''), readyReplicas: ready.length } };
  }

  /** One more replica, up to parameters.maxInstances; refused at the cap. Done when the new pod is ready. */
  private async scaleOut(): Promise<Outcome> {
    let scaled = this.done('scaled');
    if (!scaled) {
      const max = this.command.parameters.maxInstances ?? 0;
      const current = (await this.api.readScale()).spec?.replicas ?? 0;
      if (current >= max) return { ok: false, error: { code: 'at_capacity', message: `${this.workloadRef} already runs ${current} replicas; parameters.maxInstances is ${max}` } };
      scaled = await this.scaleBy(+1, max);
    }
    const started = this.done('started') ?? (await this.recordStartedPod([]));
    return { ok: true, details: { from: scaled.detail?.from, to: scaled.detail?.to, started: started.object.replace(/^pod\//, '') } };
  }

  /**
   * Back down to parameters.minInstances (the instances the tenant declares), never below: the
   * controller removes the surplus pods, newest first (a ReplicaSet ranks not-ready then newest
   * pods first; a StatefulSet removes its highest ordinals). At or below the floor already (a
   * human scaled in meanwhile) there is nothing to stop: done, with no effect. Done when the
   * workload runs that many pods, all ready.
   */
  private async scaleIn(): Promise<Outcome> {
    const floor = this.command.parameters.minInstances ?? 0;
    let scaled = this.done('scaled');
    if (!scaled) {
      const current = (await this.api.readScale()).spec?.replicas ?? 0;
      if (current <= floor) return { ok: true, details: { from: current, to: current, note: `${this.workloadRef} runs ${current} replicas, not above parameters.minInstances ${floor}: nothing to stop` } };
      scaled = await this.scaleTo(() => floor);
    }
    const to = Number(scaled.detail?.to);
    await this.waitUntil(`${this.workloadRef} down to ${to} ready pods`, async () => {
      const workload = await this.api.read();
      if (!workload) return null;
      const owned = (await this.api.listPods(workload)).filter((p) => !p.metadata?.deletionTimestamp);
      const replicaSets = await this.api.listReplicaSets(workload);
      const mine = owned.filter((p) => ownsPod(workload, p, replicaSets));
      return mine.length <= to && readyPodsOf(workload, mine, replicaSets).length >= to ? true : null;
    });
    return { ok: true, details: { from: scaled.detail?.from, to } };
  }

  /**
   * `kubectl rollout undo`: the Deployment's pod template becomes that of the ReplicaSet of the
   * chosen revision (the revision's ReplicaSet becomes the newest revision again). Written
   * together with its record in one conditioned update. Done when the rollout is complete.
   */
  private async rollback(): Promise<Outcome> {
    let rolledBack = this.done('rolled_back');
    if (!rolledBack) {
      for (;;) {
        const workload = await this.api.read();
        if (workload?.kind !== 'Deployment') return { ok: false, error: { code: DriverRefusal.UnknownTarget, message: `${this.workloadRef} is gone` } };
        if (workload.object.spec?.paused) {
          return { ok: false, error: { code: 'deployment_paused', message: `${this.workloadRef} is paused: a rollback would not roll out until it is resumed` } };
        }
        const choice = chooseRollback(workload.object, await this.api.listReplicaSets(workload), this.command.parameters.toRelease ?? 'previous');
        if (!choice.ok) return { ok: false, error: { code: choice.code, message: choice.message } };
        const effect: DriverEffect = { verb: 'rolled_back', object: this.workloadRef, detail: { fromRevision: choice.from, toRevision: choice.toRevision } };
        const expectedVersion = workload.object.metadata?.resourceVersion;
        try {
          await this.recorded(effect, (latest) => {
            // Chosen from this version of the history: a newer one must be chosen again.
            if (latest.object.metadata?.resourceVersion !== expectedVersion) throw new ConflictError('history changed');
            return templateForDeployment(choice.to);
          });
          rolledBack = effect;
          break;
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
        }
      }
    }
    await this.waitUntil(`the rollout of ${this.workloadRef}`, async () => {
      const workload = await this.api.read();
      return workload?.kind === 'Deployment' && rolloutComplete(workload.object) ? workload : null;
    });
    return { ok: true, details: { ...rolledBack.detail } };
  }

  /** Deletes exactly the claimed pod; an answer when it is no longer there to delete. */
  private async deletePod(pod: V1Pod): Promise<Outcome | null> {
    try {
      await this.api.deletePod(pod);
      return null;
    } catch (error) {
      const gone = (error instanceof RejectedError && error.status === 404) || error instanceof ConflictError;
      if (!gone) throw error;
      return { ok: false, error: { code: DriverRefusal.UnknownTarget, message: `pod ${this.command.instance} (uid ${pod.metadata?.uid}) is already gone` } };
    }
  }

  /** Changes the replica count by `delta` through the scale subresource (conditioned, retried on conflict), and records it. */
  private scaleBy(delta: number, max = Infinity): Promise<DriverEffect> {
    return this.scaleTo((from) => Math.min(from + delta, max));
  }

  /** Sets the replica count to `target(current)` through the scale subresource (conditioned, retried on conflict), and records it. */
  private async scaleTo(target: (from: number) => number): Promise<DriverEffect> {
    for (;;) {
      const scale = await this.api.readScale();
      const from = scale.spec?.replicas ?? 0;
      const to = target(from);
      const before = await this.api.listPods(this.workload);
      try {
        await this.api.writeScale(scale, to);
      } catch (error) {
        if (error instanceof ConflictError) continue;
        throw error;
      }
      if (to > from) this.podsBeforeScaleUp = before.map((p) => p.metadata?.uid ?? '');
      const effect: DriverEffect = { verb: 'scaled', object: this.workloadRef, detail: { from, to } };
      await this.recorded(effect);
      return effect;
    }
  }

  /** Waits for a ready pod that did not exist before the scale-up, and records it as started. */
  private async recordStartedPod(excludeUids: string[]): Promise<DriverEffect> {
    const before = this.podsBeforeScaleUp;
    const fresh = await this.waitUntil(`a new ready pod of ${this.workloadRef}`, async () => {
      const workload = await this.api.read();
      if (!workload) return null;
      const ready = readyPodsOf(workload, await this.api.listPods(workload), await this.api.listReplicaSets(workload), [...excludeUids, ...(before ?? [])]);
      if (before) return ready[0] ?? null;
      return newest(ready);
    });
    const effect: DriverEffect = { verb: 'started', object: objectRef('Pod', fresh.metadata?.name ?? '') };
    await this.recorded(effect);
    return effect;
  }

  /** Waits until the workload has as many ready pods as it wants, not counting `excludeUids`. */
  private async waitForReadyPods(excludeUids: string[]): Promise<V1Pod[]> {
    return this.waitUntil(`${this.workloadRef} back to its desired ready count`, async () => {
      const workload = await this.api.read();
      if (!workload) return null;
      const desired = workload.object.spec?.replicas ?? 1;
      const ready = readyPodsOf(workload, await this.api.listPods(workload), await this.api.listReplicaSets(workload), excludeUids);
      return ready.length >= desired ? ready : null;
    });
  }

  private async waitUntil<T>(what: string, check: () => Promise<T | null>): Promise<T> {
    for (;;) {
      const found = await check();
      if (found) return found;
      await this.calls.pause(POLL_MS, what);
    }
  }
}

function newest(pods: V1Pod[]): V1Pod | null {
  const created = (pod: V1Pod) => new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
  return [...pods].sort((a, b) => created(b) - created(a))[0] ?? null;
}

/** The pod uid an effect recorded. */
function uidIn(effect: DriverEffect | undefined): string | undefined {
  const uid = effect?.detail?.uid;
  return typeof uid === 'string' ? uid : undefined;
}

/** Why the action cannot be carried out faithfully on this kind of workload, or null when it can. */
function unsupportedFor(kind: Workload['kind'], action: DriverCommand['action']): string | null {
  if (kind === 'StatefulSet' && action === 'replace') {
    return 'replace on a StatefulSet: its pods have stable identities, so a fresh pod cannot run beside the old one (use restart)';
  }
  if (kind === 'StatefulSet' && action === 'rollback') {
    return 'rollback on a StatefulSet is not implemented (ControllerRevisions); roll back with kubectl rollout undo';
  }
  return null;
}
