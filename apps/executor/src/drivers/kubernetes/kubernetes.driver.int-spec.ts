import { randomUUID } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import type { ActionParameters, RemediationAction } from '@autoheal/contracts';
import { expectEventually } from '@autoheal/testing';
import { describeDriverConformance, type DriverTarget } from '../../test-support/driver-conformance.js';
import { KubernetesApiStandIn, kubernetesTypeProblems } from '../../test-support/kubernetes-api-stand-in.js';
import { DriverError, DriverErrorCode } from '../driver.errors.js';
import { DriverRefusal, performChecked, type DriverCommand, type DriverResult } from '../remediation-driver.js';
import { KubernetesDriver } from './kubernetes.driver.js';
import { readRecords, REMEDIATIONS_ANNOTATION } from './remediation-record.js';

const NAMESPACE = 'tenant-a';
const systemClock = { now: () => new Date() };
let standIn: KubernetesApiStandIn;
let driver: KubernetesDriver;
let serial = 0;

function kubeConfig(api: KubernetesApiStandIn): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    // The stand-in speaks plain HTTP, which the client allows only with skipTLSVerify.
    clusters: [
      { name: 'stand-in', server: api.url, skipTLSVerify: true },
      // Nothing listens on port 1: an unreachable API server.
      { name: 'nowhere', server: 'http://127.0.0.1:1', skipTLSVerify: true },
    ],
    users: [{ name: 'executor', token: api.token }],
    contexts: [
      { name: 'stand-in', cluster: 'stand-in', user: 'executor' },
      { name: 'nowhere', cluster: 'nowhere', user: 'executor' },
    ],
    currentContext: 'stand-in',
  });
  return config;
}

/** A fresh Deployment (revisions app:1, app:2 unless told) and one of its pods as the target. */
function deploymentTarget(options: { replicas?: number; images?: string[]; name?: string } = {}): DriverTarget {
  const name = options.name ?? `web-${++serial}`;
  standIn.createDeployment({ namespace: NAMESPACE, name, replicas: options.replicas ?? 2, images: options.images ?? ['registry.example/app:1', 'registry.example/app:2'] });
  const pod = standIn.podsOf(NAMESPACE, { app: name })[0];
  return { tenantId: 'acme', service: 'web', instance: pod.metadata!.name!, runtime: { kind: 'kubernetes', namespace: NAMESPACE, workload: 'Deployment', name } };
}

function parametersFor(action: RemediationAction): ActionParameters {
  switch (action) {
    case 'scale_out':
      return { maxInstances: 5, scaleInAfterMs: 600_000 };
    case 'rollback':
      return { toRelease: 'previous' };
    case 'failover':
      return { toRegion: 'eu-west-1' };
    case 'throttle':
      return { limitPerSecond: 10, ttlMs: 60_000 };
    case 'scale_in':
      // The conformance targets run 2 replicas: one above the floor to stop.
      return { minInstances: 1 };
    default:
      return {};
  }
}

function command(target: DriverTarget, action: RemediationAction, parameters: ActionParameters = parametersFor(action), remediationId = randomUUID()): DriverCommand {
  return { ...target, remediationId, action, parameters };
}

function effectsOf(result: DriverResult): { verb: string; object: string }[] {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result, null, 2)}`);
  return result.effects.map(({ verb, object }) => ({ verb, object }));
}

const observed = (remediationId: string) => standIn.effectsOf(remediationId).map(({ verb, object }) => ({ verb, object }));
const podUids = (app: string) => standIn.podsOf(NAMESPACE, { app }).map((p) => `${p.metadata?.name}:${p.metadata?.uid}`).sort();

beforeAll(async () => {
  standIn = await KubernetesApiStandIn.start();
  driver = new KubernetesDriver({ EXECUTOR_KUBERNETES_TIMEOUT_MS: 4_000 }, { ok: true, config: kubeConfig(standIn) }, systemClock);
});

afterAll(async () => {
  await standIn.stop();
});

describeDriverConformance(
  'KubernetesDriver (in-process Kubernetes API stand-in)',
  'kubernetes',
  () =>
    Promise.resolve({
      driver,
      target: () => Promise.resolve(deploymentTarget()),
      unknownTarget: () => ({ tenantId: 'acme', service: 'web', instance: 'missing-5d8f7-abcde', runtime: { kind: 'kubernetes', namespace: NAMESPACE, workload: 'Deployment', name: 'missing' } }),
      parametersFor,
      observedEffects: (remediationId) => Promise.resolve(standIn.effectsOf(remediationId)),
      silence: () => Promise.resolve(standIn.silence()),
    }),
  () => Promise.resolve(),
);

describe('KubernetesDriver on Deployments', () => {
  it('restarts: the pod is deleted, its ReplicaSet starts a fresh one, and the answer comes once the Deployment is back to its ready count', async () => {
    const target = deploymentTarget({ replicas: 3 });
    const cmd = command(target, 'restart');
    const result = await performChecked(driver, cmd);
    expect(effectsOf(result)).toEqual([{ verb: 'restarted', object: `pod/${target.instance}` }]);
    const pods = standIn.podsOf(NAMESPACE, { app: target.runtime.kind === 'kubernetes' ? target.runtime.name : '' });
    expect(pods.map((p) => p.metadata?.name)).not.toContain(target.instance);
    expect(pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))).toHaveLength(3);
  });

  it('replaces: scales up by one, waits for the new pod, stops the old one, scales back; the old pod is never modified', async () => {
    const target = deploymentTarget({ replicas: 2 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const cmd = command(target, 'replace');
    const result = await performChecked(driver, cmd);
    const effects = effectsOf(result);
    expect(effects.map((e) => e.verb)).toEqual(['scaled', 'started', 'stopped', 'scaled']);
    expect(effects[2]).toEqual({ verb: 'stopped', object: `pod/${target.instance}` });
    expect(observed(cmd.remediationId)).toEqual(effects);
    expect(standIn.deployment(NAMESPACE, name)?.spec?.replicas).toBe(2);
    const started = effects[1].object.replace('pod/', '');
    await expectEventually(() => expect(standIn.podsOf(NAMESPACE, { app: name }).map((p) => p.metadata?.name)).toContain(started));
    // Only delete and scale requests touched pods: none was patched or replaced.
    expect(standIn.requests.filter((r) => /\/pods\//.test(r) && !/^(GET|DELETE) /.test(r))).toEqual([]);
  });

  it('rolls back to a named revision: the template of that revision’s ReplicaSet, which becomes the newest revision', async () => {
    const target = deploymentTarget({ images: ['registry.example/app:1', 'registry.example/app:2', 'registry.example/app:3'] });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const cmd = command(target, 'rollback', { toRelease: '1' });
    const result = await performChecked(driver, cmd);
    expect(result).toMatchObject({ ok: true, effects: [{ verb: 'rolled_back', object: `deployment/${name}`, detail: { fromRevision: 3, toRevision: 1 } }] });
    expect(observed(cmd.remediationId)).toEqual(effectsOf(result));
    const deployment = standIn.deployment(NAMESPACE, name);
    expect(deployment?.spec?.template?.spec?.containers[0].image).toBe('registry.example/app:1');
    expect(deployment?.spec?.template?.metadata?.labels).toEqual({ app: name });
    const revisions = Object.fromEntries(standIn.replicaSetsOf(NAMESPACE, name).map((rs) => [String(rs.spec?.template?.spec?.containers[0].image), rs.metadata?.annotations?.['deployment.kubernetes.io/revision']]));
    expect(revisions).toEqual({ 'registry.example/app:1': '4', 'registry.example/app:2': '2', 'registry.example/app:3': '3' });
    const running = standIn.podsOf(NAMESPACE, { app: name }).map((p) => p.spec?.containers[0].image);
    expect(running).toEqual(['registry.example/app:1', 'registry.example/app:1']);
  });

  it.each([
    ['a revision it does not have', '9', 'invalid_parameters'],
    ['the revision it runs', '2', 'invalid_parameters'],
    ['something that is not a revision', 'v1.2.3', 'invalid_parameters'],
  ])('refuses a rollback to %s, having changed nothing', async (_name, toRelease, code) => {
    const target = deploymentTarget();
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const before = standIn.deployment(NAMESPACE, name)?.spec?.template;
    const cmd = command(target, 'rollback', { toRelease });
    await expect(performChecked(driver, cmd)).resolves.toMatchObject({ ok: false, error: { code } });
    expect(standIn.deployment(NAMESPACE, name)?.spec?.template).toEqual(before);
    expect(observed(cmd.remediationId)).toEqual([]);
  });

  it('refuses a rollback when there is no earlier revision', async () => {
    const target = deploymentTarget({ images: ['registry.example/app:1'] });
    await expect(performChecked(driver, command(target, 'rollback'))).resolves.toMatchObject({ ok: false, error: { code: 'no_previous_revision' } });
  });

  it('refuses to roll back a paused Deployment (it would not roll out), changing nothing', async () => {
    const target = deploymentTarget();
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    standIn.editDeployment(NAMESPACE, name, { spec: { paused: true } });
    const before = standIn.deployment(NAMESPACE, name)?.spec?.template;
    await expect(performChecked(driver, command(target, 'rollback'))).resolves.toMatchObject({ ok: false, error: { code: 'deployment_paused' } });
    expect(standIn.deployment(NAMESPACE, name)?.spec?.template).toEqual(before);
  });

  it('resumes a remediation whose executor died after deleting the pod: waits for the workload and finishes, deleting nothing more', async () => {
    const target = deploymentTarget({ replicas: 2 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const remediationId = randomUUID();
    // What a driver that crashed right after its delete leaves on the workload: an expired lease, one recorded effect.
    const crashed = {
      id: remediationId,
      action: 'restart',
      phase: 'acting',
      holder: 'crashed-call',
      leaseUntil: new Date(Date.now() - 1_000).toISOString(),
      effects: [{ verb: 'restarted', object: `pod/${target.instance}`, detail: { uid: 'uid-of-the-deleted-pod' } }],
    };
    standIn.editDeployment(NAMESPACE, name, { annotations: { [REMEDIATIONS_ANNOTATION]: JSON.stringify([crashed]) } });
    const before = podUids(name);
    const result = await performChecked(driver, command(target, 'restart', {}, remediationId));
    expect(effectsOf(result)).toEqual([{ verb: 'restarted', object: `pod/${target.instance}` }]);
    expect(podUids(name)).toEqual(before);
    expect(standIn.effects.filter((e) => e.object === `pod/${target.instance}`)).toEqual([]);
    expect(readRecords(standIn.deployment(NAMESPACE, name)?.metadata?.annotations)).toMatchObject([{ id: remediationId, phase: 'done' }]);
  });

  it('refuses scale_out at the cap (at_capacity), scaling nothing; asked again, it gives the same answer', async () => {
    const target = deploymentTarget({ replicas: 3 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const cmd = command(target, 'scale_out', { maxInstances: 3, scaleInAfterMs: 60_000 });
    await expect(performChecked(driver, cmd)).resolves.toMatchObject({ ok: false, error: { code: 'at_capacity' } });
    await expect(performChecked(driver, cmd)).resolves.toMatchObject({ ok: false, error: { code: 'at_capacity' } });
    expect(standIn.deployment(NAMESPACE, name)?.spec?.replicas).toBe(3);
    expect(observed(cmd.remediationId)).toEqual([]);
  });

  it('scales out by one only, up to maxInstances', async () => {
    const target = deploymentTarget({ replicas: 1 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const result = await performChecked(driver, command(target, 'scale_out', { maxInstances: 10, scaleInAfterMs: 60_000 }));
    expect(result).toMatchObject({ ok: true, effects: [{ verb: 'scaled', object: `deployment/${name}`, detail: { from: 1, to: 2 } }, { verb: 'started' }] });
    expect(standIn.deployment(NAMESPACE, name)?.spec?.replicas).toBe(2);
  });

  it('scales in after a scale_out: the pod the scale_out started is stopped (newest first), never below minInstances', async () => {
    const target = deploymentTarget({ replicas: 2 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const out = await performChecked(driver, command(target, 'scale_out', { maxInstances: 4, scaleInAfterMs: 60_000 }));
    const started = effectsOf(out).find((e) => e.verb === 'started')?.object.replace('pod/', '');
    const before = standIn.podsOf(NAMESPACE, { app: name }).map((p) => p.metadata?.name);
    expect(before).toHaveLength(3);
    expect(before).toContain(started);

    const cmd = command(target, 'scale_in', { minInstances: 2 });
    const result = await performChecked(driver, cmd);
    expect(result).toMatchObject({ ok: true, replayed: false, details: { from: 3, to: 2 } });
    expect(effectsOf(result)).toEqual([{ verb: 'scaled', object: `deployment/${name}` }]);
    expect(observed(cmd.remediationId)).toEqual(effectsOf(result));
    expect(standIn.deployment(NAMESPACE, name)?.spec?.replicas).toBe(2);
    const after = standIn.podsOf(NAMESPACE, { app: name }).map((p) => p.metadata?.name);
    expect(after).toHaveLength(2);
    expect(after).not.toContain(started);
    expect(after).toContain(target.instance);
  });

  it('scales in nothing at or below minInstances: done, with no effect and no write but its own record', async () => {
    const target = deploymentTarget({ replicas: 2 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const before = podUids(name);
    const cmd = command(target, 'scale_in', { minInstances: 3 });
    const result = await performChecked(driver, cmd);
    expect(result).toMatchObject({ ok: true, effects: [], details: { from: 2, to: 2 } });
    expect(standIn.deployment(NAMESPACE, name)?.spec?.replicas).toBe(2);
    expect(podUids(name)).toEqual(before);
    expect(observed(cmd.remediationId)).toEqual([]);
  });

  it('scales in a workload whose incident pod is gone: a scale-in names the workload, not a pod', async () => {
    const target = deploymentTarget({ replicas: 3 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const result = await performChecked(driver, command({ ...target, instance: 'long-gone-5d8f7-abcde' }, 'scale_in', { minInstances: 1 }));
    expect(result).toMatchObject({ ok: true, details: { from: 3, to: 1 } });
    expect(standIn.deployment(NAMESPACE, name)?.spec?.replicas).toBe(1);
  });

  it.each(['restart', 'replace', 'scale_out', 'rollback'] as const)(
    'refuses to %s when the instance is a pod of another Deployment (unknown_target), touching neither',
    async (action) => {
      const mine = deploymentTarget();
      const other = deploymentTarget();
      const mineName = mine.runtime.kind === 'kubernetes' ? mine.runtime.name : '';
      const otherName = other.runtime.kind === 'kubernetes' ? other.runtime.name : '';
      const before = { mine: podUids(mineName), other: podUids(otherName), mineSpec: standIn.deployment(NAMESPACE, mineName)?.spec };
      const requestsBefore = standIn.requests.length;
      const cmd = command({ ...mine, instance: other.instance }, action);
      await expect(performChecked(driver, cmd)).resolves.toMatchObject({ ok: false, error: { code: DriverRefusal.UnknownTarget } });
      expect({ mine: podUids(mineName), other: podUids(otherName), mineSpec: standIn.deployment(NAMESPACE, mineName)?.spec }).toEqual(before);
      expect(observed(cmd.remediationId)).toEqual([]);
      // Nothing but reads: no delete, scale, or patch was even sent.
      expect(standIn.requests.slice(requestsBefore).filter((r) => !r.startsWith('GET '))).toEqual([]);
    },
  );

  it('acts once for conflicting concurrent calls: two remediations racing to scale out to a cap of 3 from 2 scale once', async () => {
    const target = deploymentTarget({ replicas: 2 });
    const name = target.runtime.kind === 'kubernetes' ? target.runtime.name : '';
    const parameters = { maxInstances: 3, scaleInAfterMs: 60_000 };
    const [a, b] = [command(target, 'scale_out', parameters), command(target, 'scale_out', parameters)];
    const results = await Promise.all([performChecked(driver, a), performChecked(driver, b)]);
    const outcomes = results.map((r) => (r.ok ? 'ok' : r.error.code)).sort();
    expect(outcomes).toEqual(['at_capacity', 'ok']);
    expect(standIn.deployment(NAMESPACE, name)?.spec?.replicas).toBe(3);
    expect([...observed(a.remediationId), ...observed(b.remediationId)].filter((e) => e.verb === 'scaled')).toHaveLength(1);
  });

  it('acts once for the same remediation asked three times at once: one restart, the others replay it', async () => {
    const target = deploymentTarget({ replicas: 2 });
    const cmd = command(target, 'restart');
    const results = await Promise.all([performChecked(driver, cmd), performChecked(driver, cmd), performChecked(driver, cmd)]);
    expect(results.map((r) => (r.ok ? r.replayed : r.error.code)).sort()).toEqual([false, true, true]);
    expect(observed(cmd.remediationId)).toEqual([{ verb: 'restarted', object: `pod/${target.instance}` }]);
  });
});

describe('KubernetesDriver on StatefulSets', () => {
  function statefulSetTarget(replicas = 2): DriverTarget & { name: string } {
    const name = `db-${++serial}`;
    standIn.createStatefulSet({ namespace: NAMESPACE, name, replicas, image: 'registry.example/db:1' });
    return { name, tenantId: 'acme', service: 'db', instance: `${name}-1`, runtime: { kind: 'kubernetes', namespace: NAMESPACE, workload: 'StatefulSet', name } };
  }

  it('restarts a pod: deleted, recreated under the same name with a new uid, and ready again', async () => {
    const target = statefulSetTarget();
    const oldUid = standIn.podsOf(NAMESPACE, { app: target.name }).find((p) => p.metadata?.name === target.instance)?.metadata?.uid;
    const cmd = command(target, 'restart');
    const result = await performChecked(driver, cmd);
    expect(effectsOf(result)).toEqual([{ verb: 'restarted', object: `pod/${target.instance}` }]);
    expect(observed(cmd.remediationId)).toEqual(effectsOf(result));
    const fresh = standIn.podsOf(NAMESPACE, { app: target.name }).find((p) => p.metadata?.name === target.instance);
    expect(fresh?.metadata?.uid).not.toBe(oldUid);
    expect(fresh?.status?.conditions).toEqual([expect.objectContaining({ type: 'Ready', status: 'True' })]);
  });

  it('scales out through the StatefulSet’s scale subresource: the next ordinal starts', async () => {
    const target = statefulSetTarget(2);
    const cmd = command(target, 'scale_out');
    const result = await performChecked(driver, cmd);
    expect(effectsOf(result)).toEqual([
      { verb: 'scaled', object: `statefulset/${target.name}` },
      { verb: 'started', object: `pod/${target.name}-2` },
    ]);
    expect(observed(cmd.remediationId)).toEqual(effectsOf(result));
  });

  it('scales in through the StatefulSet’s scale subresource: its highest ordinals stop first', async () => {
    const target = statefulSetTarget(3);
    const cmd = command(target, 'scale_in', { minInstances: 2 });
    const result = await performChecked(driver, cmd);
    expect(effectsOf(result)).toEqual([{ verb: 'scaled', object: `statefulset/${target.name}` }]);
    expect(observed(cmd.remediationId)).toEqual(effectsOf(result));
    expect(standIn.podsOf(NAMESPACE, { app: target.name }).map((p) => p.metadata?.name).sort()).toEqual([`${target.name}-0`, `${target.name}-1`]);
  });

  it.each(['replace', 'rollback'] as const)('refuses to %s a StatefulSet (unsupported_action), doing nothing', async (action) => {
    const target = statefulSetTarget();
    const before = podUids(target.name);
    const cmd = command(target, action);
    await expect(performChecked(driver, cmd)).resolves.toMatchObject({ ok: false, error: { code: DriverRefusal.UnsupportedAction } });
    expect(podUids(target.name)).toEqual(before);
    expect(observed(cmd.remediationId)).toEqual([]);
  });
});

describe('KubernetesDriver configuration and failures', () => {
  it('refuses with the reason when the executor has no kubeconfig (and was built without failing)', async () => {
    const unconfigured = new KubernetesDriver({ EXECUTOR_KUBERNETES_TIMEOUT_MS: 1_000 }, { ok: false, reason: 'no kubeconfig: set KUBECONFIG' }, systemClock);
    await expect(unconfigured.perform(command(deploymentTarget(), 'restart'))).resolves.toEqual({ ok: false, error: { code: 'kubernetes_not_configured', message: 'no kubeconfig: set KUBECONFIG' } });
  });

  it('refuses a cluster its kubeconfig does not name (unknown_target)', async () => {
    const target = deploymentTarget();
    const result = await driver.perform(command({ ...target, runtime: { ...target.runtime, kind: 'kubernetes', cluster: 'elsewhere' } as DriverTarget['runtime'] }, 'restart'));
    expect(result).toMatchObject({ ok: false, error: { code: DriverRefusal.UnknownTarget } });
  });

  it('throws DriverError(Unreachable) when the API server cannot be reached', async () => {
    const target = deploymentTarget();
    const error = await driver.perform(command({ ...target, runtime: { ...target.runtime, kind: 'kubernetes', cluster: 'nowhere' } as DriverTarget['runtime'] }, 'restart')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).code).toBe(DriverErrorCode.Unreachable);
  });

  it('throws DriverError(Timeout) when the API server takes the request but never answers', async () => {
    const target = deploymentTarget();
    const restore = standIn.silence();
    try {
      const error = await driver.perform(command(target, 'restart')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DriverError);
      expect((error as DriverError).code).toBe(DriverErrorCode.Timeout);
    } finally {
      await restore();
    }
  });

  it('the stand-in’s type check finds what the Kubernetes types do not allow (so a driver sending it would fail these tests)', () => {
    const deployment = standIn.deployment(NAMESPACE, (deploymentTarget().runtime as { name: string }).name);
    expect(kubernetesTypeProblems(deployment, 'V1Deployment')).toEqual([]);
    expect(kubernetesTypeProblems({ ...deployment, spec: { ...deployment?.spec, replica: 3 } }, 'V1Deployment')).toEqual(['.spec.replica: V1DeploymentSpec has no field replica']);
    expect(kubernetesTypeProblems({ spec: { replicas: '3' } }, 'V1Scale')).toEqual(['.spec.replicas: expected a number, got "3"']);
    expect(kubernetesTypeProblems({ preconditions: { uid: 7 } }, 'V1DeleteOptions')).toEqual(['.preconditions.uid: expected a string, got 7']);
  });

  it('sent nothing the Kubernetes types reject, and was served nothing they reject, in this whole file', () => {
    expect(standIn.problems).toEqual([]);
  });
});
