// Plain functions over Kubernetes objects: which pods belong to a workload, which of them
// count as ready, which ReplicaSet a rollback goes back to.
import type { V1Deployment, V1LabelSelector, V1Pod, V1PodTemplateSpec, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** The label the Deployment controller adds to each ReplicaSet's pods; never part of the Deployment's own template. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

export type Workload = { kind: 'Deployment'; object: V1Deployment } | { kind: 'StatefulSet'; object: V1StatefulSet };

/** `deployment/web`, `statefulset/db`, `pod/web-7f9c-abcde`: how effects name what was acted on. */
export function objectRef(kind: 'Deployment' | 'StatefulSet' | 'Pod', name: string): string {
  return `${kind.toLowerCase()}/${name}`;
}

/** The selector as the API's `labelSelector` query parameter. */
export function selectorQuery(selector: V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of selector?.matchExpressions ?? []) {
    const values = (expression.values ?? []).join(',');
    switch (expression.operator) {
      case 'In':
        parts.push(`${expression.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${expression.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(expression.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${expression.key}`);
        break;
      default:
        throw new Error(`unknown label selector operator ${expression.operator}`);
    }
  }
  return parts.join(',');
}

function controllerUid(owner: { metadata?: { ownerReferences?: { controller?: boolean; uid: string; kind: string }[] } }, kind: string): string | undefined {
  return owner.metadata?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === kind)?.uid;
}

/** The ReplicaSets the Deployment controls (by owner reference, not by labels: labels can be shared). */
export function ownedReplicaSets(deployment: V1Deployment, replicaSets: readonly V1ReplicaSet[]): V1ReplicaSet[] {
  return replicaSets.filter((rs) => controllerUid(rs, 'Deployment') === deployment.metadata?.uid);
}

/**
 * Whether the workload's controller owns the pod: a StatefulSet directly, a Deployment through one
 * of its ReplicaSets. This is the tenant-isolation check: a pod that only shares labels, or
 * belongs to another workload, is not the workload's.
 */
export function ownsPod(workload: Workload, pod: V1Pod, replicaSets: readonly V1ReplicaSet[]): boolean {
  if (workload.kind === 'StatefulSet') return controllerUid(pod, 'StatefulSet') === workload.object.metadata?.uid;
  const rsUid = controllerUid(pod, 'ReplicaSet');
  return rsUid !== undefined && ownedReplicaSets(workload.object, replicaSets).some((rs) => rs.metadata?.uid === rsUid);
}

export function isReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The workload's pods that are ready and not terminating, leaving out `excludeUids` (pods the remediation stopped). */
export function readyPodsOf(workload: Workload, pods: readonly V1Pod[], replicaSets: readonly V1ReplicaSet[], excludeUids: readonly string[] = []): V1Pod[] {
  return pods.filter((pod) => ownsPod(workload, pod, replicaSets) && isReady(pod) && !excludeUids.includes(pod.metadata?.uid ?? ''));
}

export function revisionOf(rs: V1ReplicaSet): number | undefined {
  const raw = rs.metadata?.annotations?.[REVISION_ANNOTATION];
  const revision = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(revision) ? revision : undefined;
}

/** The ReplicaSet's pod template as the Deployment would carry it: without the controller's pod-template-hash label. */
export function templateForDeployment(rs: V1ReplicaSet): V1PodTemplateSpec {
  const template = structuredClone(rs.spec?.template ?? {});
  if (template.metadata?.labels) {
    delete template.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  }
  return template;
}

export type RollbackChoice = { ok: true; from: number; to: V1ReplicaSet; toRevision: number } | { ok: false; code: 'invalid_parameters' | 'no_previous_revision'; message: string };

/**
 * The ReplicaSet `kubectl rollout undo` would go back to: `previous` is the highest revision below
 * the current one, a number names a revision. The current revision is the highest.
 */
export function chooseRollback(deployment: V1Deployment, replicaSets: readonly V1ReplicaSet[], toRelease: string): RollbackChoice {
  const history = ownedReplicaSets(deployment, replicaSets)
    .map((rs) => ({ rs, revision: revisionOf(rs) }))
    .filter((entry): entry is { rs: V1ReplicaSet; revision: number } => entry.revision !== undefined)
    .sort((a, b) => b.revision - a.revision);
  const current = history[0];
  const name = deployment.metadata?.name ?? '';
  if (!current) return { ok: false, code: 'no_previous_revision', message: `deployment ${name} has no recorded revisions` };
  const revisions = history.map((h) => h.revision).join(', ');
  if (toRelease === 'previous') {
    const previous = history[1];
    if (!previous) return { ok: false, code: 'no_previous_revision', message: `deployment ${name} has only revision ${current.revision}` };
    return { ok: true, from: current.revision, to: previous.rs, toRevision: previous.revision };
  }
  if (!/^[1-9][0-9]{0,18}$/.test(toRelease)) {
    return { ok: false, code: 'invalid_parameters', message: `parameters.toRelease must be "previous" or a revision number, not ${JSON.stringify(toRelease)}` };
  }
  const wanted = Number(toRelease);
  if (wanted === current.revision) return { ok: false, code: 'invalid_parameters', message: `parameters.toRelease: deployment ${name} is already at revision ${wanted}` };
  const target = history.find((h) => h.revision === wanted);
  if (!target) return { ok: false, code: 'invalid_parameters', message: `parameters.toRelease: deployment ${name} has no revision ${wanted} (it has ${revisions})` };
  return { ok: true, from: current.revision, to: target.rs, toRevision: wanted };
}

/**
 * Whether the Deployment's rollout is complete, as `kubectl rollout status` judges it: the
 * controller has seen the latest spec, every replica runs the new template, no old replica
 * remains, and all new ones are available.
 */
export function rolloutComplete(deployment: V1Deployment): boolean {
  const desired = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  return (
    (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) &&
    (status.updatedReplicas ?? 0) >= desired &&
    (status.replicas ?? 0) <= (status.updatedReplicas ?? 0) &&
    (status.availableReplicas ?? 0) >= (status.updatedReplicas ?? 0)
  );
}
