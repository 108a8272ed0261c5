import type { V1Pod, V1PodTemplateSpec, V1ReplicaSet, V1Scale } from '@kubernetes/client-node';
import type { DeadlineBoundCalls, ClusterClients } from './kubernetes-cluster.js';
import { selectorQuery, type Workload } from './workload.js';

/** RFC 6902, the patch type the client sends by default. */
export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

export interface WorkloadTarget {
  namespace: string;
  workload: 'Deployment' | 'StatefulSet';
  name: string;
}

/**
 * The API calls the Kubernetes driver makes, and no others (the README's Role lists exactly
 * these verbs): get/patch a Deployment or StatefulSet, get/update its scale subresource, list
 * its ReplicaSets, get/list/delete pods. Every call is bounded by the remediation's deadline.
 */
export class WorkloadApi {
  constructor(
    private readonly clients: ClusterClients,
    private readonly calls: DeadlineBoundCalls,
    readonly target: WorkloadTarget,
  ) {}

  async read(): Promise<Workload | null> {
    const { namespace, name } = this.target;
    if (this.target.workload === 'Deployment') {
      const object = await this.calls.read(`get deployment ${namespace}/${name}`, (o) => this.clients.apps.readNamespacedDeployment({ namespace, name }, o));
      return object && { kind: 'Deployment', object };
    }
    const object = await this.calls.read(`get statefulset ${namespace}/${name}`, (o) => this.clients.apps.readNamespacedStatefulSet({ namespace, name }, o));
    return object && { kind: 'StatefulSet', object };
  }

  /**
   * Sets the workload's annotations (and, for a rollback, its pod template) with a JSON patch
   * conditioned on the resourceVersion it was read at (409 → ConflictError). A patch rather than
   * a PUT of the object read back: fields this client version does not model would be lost.
   */
  async patch(workload: Workload, annotations: Record<string, string>, template?: V1PodTemplateSpec): Promise<void> {
    const { namespace, name } = this.target;
    const body: JsonPatchOperation[] = [
      { op: 'replace', path: '/metadata/resourceVersion', value: workload.object.metadata?.resourceVersion },
      { op: 'add', path: '/metadata/annotations', value: annotations },
    ];
    // A pod template's field names are its wire names (no renamed fields in the client's models of it).
    if (template) body.push({ op: 'replace', path: '/spec/template', value: template });
    if (workload.kind === 'Deployment') {
      await this.calls.call(`patch deployment ${namespace}/${name}`, (o) => this.clients.apps.patchNamespacedDeployment({ namespace, name, body }, o));
    } else {
      await this.calls.call(`patch statefulset ${namespace}/${name}`, (o) => this.clients.apps.patchNamespacedStatefulSet({ namespace, name, body }, o));
    }
  }

  async readScale(): Promise<V1Scale> {
    const { namespace, name } = this.target;
    const what = `get ${this.target.workload.toLowerCase()} ${namespace}/${name}/scale`;
    const scale =
      this.target.workload === 'Deployment'
        ? await this.calls.call(what, (o) => this.clients.apps.readNamespacedDeploymentScale({ namespace, name }, o))
        : await this.calls.call(what, (o) => this.clients.apps.readNamespacedStatefulSetScale({ namespace, name }, o));
    return scale;
  }

  /** Sets the replica count through the scale subresource, conditioned on the scale's resourceVersion. */
  async writeScale(scale: V1Scale, replicas: number): Promise<void> {
    const { namespace, name } = this.target;
    const body: V1Scale = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace, resourceVersion: scale.metadata?.resourceVersion }, spec: { replicas } };
    const what = `update ${this.target.workload.toLowerCase()} ${namespace}/${name}/scale`;
    if (this.target.workload === 'Deployment') {
      await this.calls.call(what, (o) => this.clients.apps.replaceNamespacedDeploymentScale({ namespace, name, body }, o));
    } else {
      await this.calls.call(what, (o) => this.clients.apps.replaceNamespacedStatefulSetScale({ namespace, name, body }, o));
    }
  }

  async readPod(podName: string): Promise<V1Pod | null> {
    const { namespace } = this.target;
    return this.calls.read(`get pod ${namespace}/${podName}`, (o) => this.clients.core.readNamespacedPod({ namespace, name: podName }, o));
  }

  /** Deletes exactly this pod: the uid precondition keeps a same-named successor (a StatefulSet's) safe. */
  async deletePod(pod: V1Pod): Promise<void> {
    const { namespace } = this.target;
    const name = pod.metadata?.name ?? '';
    await this.calls.call(`delete pod ${namespace}/${name}`, (o) =>
      this.clients.core.deleteNamespacedPod({ namespace, name, body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: pod.metadata?.uid } } }, o),
    );
  }

  /** The pods matching the workload's selector (ownership is checked by the caller). */
  async listPods(workload: Workload): Promise<V1Pod[]> {
    const { namespace } = this.target;
    const labelSelector = selectorQuery(workload.object.spec?.selector);
    const list = await this.calls.call(`list pods in ${namespace}`, (o) => this.clients.core.listNamespacedPod({ namespace, labelSelector }, o));
    return list.items;
  }

  /** A Deployment's candidate ReplicaSets (a StatefulSet has none). */
  async listReplicaSets(workload: Workload): Promise<V1ReplicaSet[]> {
    if (workload.kind !== 'Deployment') return [];
    const { namespace } = this.target;
    const labelSelector = selectorQuery(workload.object.spec?.selector);
    const list = await this.calls.call(`list replicasets in ${namespace}`, (o) => this.clients.apps.listNamespacedReplicaSet({ namespace, labelSelector }, o));
    return list.items;
  }
}
