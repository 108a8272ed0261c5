import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { chooseRollback, ownsPod, rolloutComplete, selectorQuery, templateForDeployment } from './workload.js';

const deployment = (uid = 'd-1', extra: Partial<V1Deployment> = {}): V1Deployment => ({ metadata: { name: 'web', uid }, spec: { selector: { matchLabels: { app: 'web' } }, template: {} }, ...extra });
const replicaSet = (uid: string, revision: string | undefined, ownerUid = 'd-1', image = `app:${revision}`): V1ReplicaSet => ({
  metadata: {
    uid,
    name: `web-${uid}`,
    annotations: revision === undefined ? {} : { 'deployment.kubernetes.io/revision': revision },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: ownerUid, controller: true }],
  },
  spec: { selector: {}, template: { metadata: { labels: { app: 'web', 'pod-template-hash': uid } }, spec: { containers: [{ name: 'app', image }] } } },
});
const pod = (ownerKind: string, ownerUid: string, controller = true): V1Pod => ({ metadata: { name: 'p', uid: 'p-1', ownerReferences: [{ apiVersion: 'apps/v1', kind: ownerKind, name: 'x', uid: ownerUid, controller }] } });

describe('selectorQuery', () => {
  it.each([
    [{ matchLabels: { app: 'web', tier: 'api' } }, 'app=web,tier=api'],
    [{ matchExpressions: [{ key: 'env', operator: 'In', values: ['a', 'b'] }, { key: 'canary', operator: 'DoesNotExist' }] }, 'env in (a,b),!canary'],
    [{ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['1'] }, { key: 'y', operator: 'Exists' }] }, 'app=web,x notin (1),y'],
    [undefined, ''],
  ])('%j → %s', (selector, query) => {
    expect(selectorQuery(selector)).toBe(query);
  });
});

describe('ownsPod (the tenant-isolation check)', () => {
  const sets = [replicaSet('rs-mine', '1'), replicaSet('rs-other', '1', 'd-2')];
  it.each([
    ['a pod of one of its ReplicaSets', pod('ReplicaSet', 'rs-mine'), true],
    ['a pod of another Deployment’s ReplicaSet', pod('ReplicaSet', 'rs-other'), false],
    ['a pod whose ReplicaSet owner is not its controller', pod('ReplicaSet', 'rs-mine', false), false],
    ['a pod of an unknown ReplicaSet', pod('ReplicaSet', 'rs-unknown'), false],
    ['a bare pod', { metadata: { name: 'p' } }, false],
  ])('Deployment: %s → %s', (_name, p, owned) => {
    expect(ownsPod({ kind: 'Deployment', object: deployment() }, p, sets)).toBe(owned);
  });
  it.each([
    ['its own pod', pod('StatefulSet', 's-1'), true],
    ['another StatefulSet’s pod', pod('StatefulSet', 's-2'), false],
    ['a pod of a ReplicaSet', pod('ReplicaSet', 's-1'), false],
  ])('StatefulSet: %s → %s', (_name, p, owned) => {
    expect(ownsPod({ kind: 'StatefulSet', object: { metadata: { uid: 's-1' } } }, p, [])).toBe(owned);
  });
});

describe('chooseRollback', () => {
  const history = [replicaSet('a', '1'), replicaSet('b', '2'), replicaSet('c', '3'), replicaSet('foreign', '7', 'd-2'), replicaSet('unnumbered', undefined)];
  it.each([
    ['previous', { ok: true, from: 3, toRevision: 2 }],
    ['1', { ok: true, from: 3, toRevision: 1 }],
    ['3', { ok: false, code: 'invalid_parameters' }],
    ['7', { ok: false, code: 'invalid_parameters' }],
    ['0', { ok: false, code: 'invalid_parameters' }],
    ['v2', { ok: false, code: 'invalid_parameters' }],
  ])('to %s', (toRelease, expected) => {
    expect(chooseRollback(deployment(), history, toRelease)).toMatchObject(expected);
  });

  it('has nothing to go back to with one revision, or none', () => {
    expect(chooseRollback(deployment(), [replicaSet('a', '1')], 'previous')).toMatchObject({ ok: false, code: 'no_previous_revision' });
    expect(chooseRollback(deployment(), [], 'previous')).toMatchObject({ ok: false, code: 'no_previous_revision' });
  });

  it('goes back to the ReplicaSet’s template without the controller’s pod-template-hash label', () => {
    const choice = chooseRollback(deployment(), history, '1');
    if (!choice.ok) throw new Error(choice.message);
    expect(templateForDeployment(choice.to)).toEqual({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } });
    expect(choice.to.spec?.template?.metadata?.labels).toHaveProperty('pod-template-hash', 'a');
  });
});

describe('rolloutComplete', () => {
  const at = (generation: number, spec: number, status: Record<string, number>) => deployment('d', { metadata: { name: 'web', generation }, spec: { replicas: spec, selector: {}, template: {} }, status });
  it.each([
    ['done', at(2, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }), true],
    ['the controller has not seen the change', at(3, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }), false],
    ['new replicas still missing', at(2, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 1, availableReplicas: 1 }), false],
    ['old replicas still running', at(2, 2, { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }), false],
    ['new replicas not yet available', at(2, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }), false],
  ])('%s → %s', (_name, d, complete) => {
    expect(rolloutComplete(d)).toBe(complete);
  });
});
