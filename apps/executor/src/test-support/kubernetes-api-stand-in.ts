// An in-process stand-in for the Kubernetes API server (excluded from the build). It answers
// exactly the endpoints the Kubernetes driver uses, with apps/v1 and core/v1 object shapes,
// keeps state, and plays the controllers: a ReplicaSet / StatefulSet keeps its replica count
// (a deleted pod is replaced, scaling creates or deletes pods), pods become Ready after a
// moment, a Deployment whose template changes gets a new (or a re-used, for a rollback)
// ReplicaSet revision and rolls over to it. Every object it serves and every body it receives
// is checked against the client library's own models of the Kubernetes types (every field
// known, every value of its declared type); what fails is kept in `problems` and answered 422.
//
// Not modelled: watches, admission, defaulting, terminating pods (a deleted pod is gone at
// once), rolling-update pacing (maxSurge / maxUnavailable: a rollout is all at once),
// pod-deletion-cost, StatefulSet ordering and update strategies, RBAC (any bearer token works).
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import type { V1Deployment, V1Pod, V1PodTemplateSpec, V1ReplicaSet, V1Scale, V1StatefulSet } from '@kubernetes/client-node';
import type { DriverEffect } from '../drivers/remediation-driver.js';
import { leaseHolder, readRecords } from '../drivers/kubernetes/remediation-record.js';
import { POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from '../drivers/kubernetes/workload.js';

type AttributeType = { name: string; baseName: string; type: string; format: string };
type ModelClass = { getAttributeTypeMap?: () => AttributeType[] };
const models = k8s as unknown as Record<string, ModelClass | undefined>;

/**
 * What is wrong with `value` as a `type` of the client's models (`V1Deployment`, `Array<V1Pod>`,
 * `{ [key: string]: string; }` …), each problem naming its path. Unknown fields are problems:
 * the API server would drop or refuse them.
 */
export function kubernetesTypeProblems(value: unknown, type: string, path = '', format = ''): string[] {
  if (value === undefined || value === null) return [];
  const at = path || '(root)';
  if (type === 'any') return [];
  if (type.startsWith('Array<')) {
    if (!Array.isArray(value)) return [`${at}: expected an array (${type})`];
    const item = type.slice('Array<'.length, -1);
    return value.flatMap((v, i) => kubernetesTypeProblems(v, item, `${path}[${i}]`, format));
  }
  if (type.startsWith('{ [key: string]: ')) {
    if (!isPlainObject(value)) return [`${at}: expected a map (${type})`];
    const item = type.slice('{ [key: string]: '.length, -'; }'.length);
    return Object.entries(value).flatMap(([k, v]) => kubernetesTypeProblems(v, item, `${path}.${k}`, format));
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : [`${at}: expected a string, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'number':
      if (typeof value !== 'number') return [`${at}: expected a number, got ${JSON.stringify(value)}`];
      return (format === 'int32' || format === 'int64') && !Number.isInteger(value) ? [`${at}: expected an integer (${format}), got ${value}`] : [];
    case 'Date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? [] : [`${at}: expected an RFC 3339 time, got ${JSON.stringify(value)}`];
    case 'IntOrString':
      return typeof value === 'string' || Number.isInteger(value) ? [] : [`${at}: expected an int or a string, got ${JSON.stringify(value)}`];
  }
  const attributes = models[type]?.getAttributeTypeMap?.();
  if (!attributes) return [`${at}: ${type} is not a type the client knows`];
  if (!isPlainObject(value)) return [`${at}: expected an object (${type}), got ${JSON.stringify(value)}`];
  const problems: string[] = [];
  for (const [key, field] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (!attribute) problems.push(`${path}.${key}: ${type} has no field ${key}`);
    else problems.push(...kubernetesTypeProblems(field, attribute.type, `${path}.${key}`, attribute.format));
  }
  return problems;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class HttpStatus extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A remediation effect the stand-in saw, attributed to the remediation holding the workload's lease at the time (null: none did). */
export interface ObservedEffect extends DriverEffect {
  remediationId: string | null;
  namespace: string;
}

export interface DeploymentSpecInput {
  namespace: string;
  name: string;
  replicas: number;
  /** One image per revision, oldest first: the Deployment ends on the last, with a ReplicaSet per revision. */
  images: string[];
}

type WorkloadKind = 'Deployment' | 'StatefulSet';

export class KubernetesApiStandIn {
  /** Bodies received or objects served that do not match the Kubernetes types. A test asserts it stays empty. */
  readonly problems: string[] = [];
  /** Every request, `METHOD path?query`, in order. */
  readonly requests: string[] = [];
  readonly effects: ObservedEffect[] = [];
  readonly token = `stand-in-${randomUUID()}`;
  private readonly deployments = new Map<string, V1Deployment>();
  private readonly statefulSets = new Map<string, V1StatefulSet>();
  private readonly replicaSets = new Map<string, V1ReplicaSet>();
  private readonly pods = new Map<string, V1Pod>();
  /** Pods a scale-up under a remediation will start, by workload key. */
  private readonly pendingStarts = new Map<string, { remediationId: string | null; count: number }>();
  private version = 1000;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private silent = false;
  private readonly held: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly timing: { controllerDelayMs: number; readyAfterMs: number },
  ) {}

  static async start(timing = { controllerDelayMs: 10, readyAfterMs: 40 }): Promise<KubernetesApiStandIn> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const standIn = new KubernetesApiStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timing);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => standIn.handle(req, res));
    return standIn;
  }

  async stop(): Promise<void> {
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    this.held.forEach((res) => res.destroy());
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Hangs every request until the returned function is called (then drops the held ones). */
  silence(): () => Promise<void> {
    this.silent = true;
    return () => {
      this.silent = false;
      this.held.splice(0).forEach((res) => res.destroy());
      return Promise.resolve();
    };
  }

  // ---- fixtures -------------------------------------------------------------------------

  /** A Deployment with one ReplicaSet per image (revisions 1…n), running the last, its pods Ready. */
  createDeployment({ namespace, name, replicas, images }: DeploymentSpecInput): V1Deployment {
    const labels = { app: name };
    const deployment: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, uid: randomUUID(), generation: 1, resourceVersion: this.nextVersion(), creationTimestamp: this.now(), labels },
      spec: { replicas, selector: { matchLabels: labels }, template: template(labels, images[0]) },
      status: {},
    };
    this.deployments.set(key(namespace, name), deployment);
    for (const image of images) {
      deployment.spec!.template = template(labels, image);
      deployment.metadata!.generation = (deployment.metadata!.generation ?? 0) + 1;
      this.reconcileDeployment(deployment);
    }
    this.settle();
    return deployment;
  }

  createStatefulSet({ namespace, name, replicas, image }: { namespace: string; name: string; replicas: number; image: string }): V1StatefulSet {
    const labels = { app: name };
    const statefulSet: V1StatefulSet = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace, uid: randomUUID(), generation: 1, resourceVersion: this.nextVersion(), creationTimestamp: this.now(), labels },
      spec: { replicas, serviceName: name, selector: { matchLabels: labels }, template: template(labels, image) },
      status: { replicas: 0 },
    };
    this.statefulSets.set(key(namespace, name), statefulSet);
    this.settle();
    return statefulSet;
  }

  /** Changes a Deployment as someone else would (kubectl, another controller): a shallow merge into its metadata and spec. */
  editDeployment(namespace: string, name: string, change: { annotations?: Record<string, string>; spec?: Partial<V1Deployment['spec']> }): void {
    const deployment = this.deployments.get(key(namespace, name));
    if (!deployment) throw new Error(`no deployment ${namespace}/${name}`);
    if (change.annotations) deployment.metadata!.annotations = { ...deployment.metadata?.annotations, ...change.annotations };
    if (change.spec) deployment.spec = { ...deployment.spec!, ...change.spec };
    this.touch(deployment);
  }

  /** The pods of a namespace whose labels include `labels`, as stored (copies). */
  podsOf(namespace: string, labels: Record<string, string>): V1Pod[] {
    return [...this.pods.values()].filter((p) => p.metadata?.namespace === namespace && matches(p.metadata?.labels, labels)).map((p) => structuredClone(p));
  }

  deployment(namespace: string, name: string): V1Deployment | undefined {
    return structuredClone(this.deployments.get(key(namespace, name)));
  }

  statefulSet(namespace: string, name: string): V1StatefulSet | undefined {
    return structuredClone(this.statefulSets.get(key(namespace, name)));
  }

  replicaSetsOf(namespace: string, deploymentName: string): V1ReplicaSet[] {
    const uid = this.deployments.get(key(namespace, deploymentName))?.metadata?.uid;
    return [...this.replicaSets.values()].filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === uid)).map((rs) => structuredClone(rs));
  }

  effectsOf(remediationId: string): DriverEffect[] {
    return this.effects.filter((e) => e.remediationId === remediationId).map(({ verb, object, detail }) => ({ verb, object, ...(detail ? { detail } : {}) }));
  }

  // ---- HTTP -----------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    if (this.silent) {
      this.held.push(res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        if (req.headers.authorization !== `Bearer ${this.token}`) throw new HttpStatus(401, 'Unauthorized', 'Unauthorized');
        const raw = Buffer.concat(chunks).toString('utf8');
        const body: unknown = raw ? JSON.parse(raw) : undefined;
        const answer = this.route(req.method ?? 'GET', new URL(req.url ?? '/', this.url), body, req.headers['content-type'] ?? '');
        this.checkServed(answer.object, answer.type, `${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer.object));
        this.schedule();
      } catch (error) {
        const status = error instanceof HttpStatus ? error : new HttpStatus(500, 'InternalError', (error as Error).message);
        res
          .writeHead(status.code, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: status.message, reason: status.reason, code: status.code }));
      }
    });
  }

  private route(method: string, url: URL, body: unknown, contentType: string): { object: unknown; type: string } {
    const path = url.pathname;
    let m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets)\/([^/]+)(\/scale)?$/.exec(path);
    if (m) {
      const [, namespace, plural, name, scale] = m;
      const kind: WorkloadKind = plural === 'deployments' ? 'Deployment' : 'StatefulSet';
      const workload = this.workload(kind, namespace, name);
      if (scale && method === 'GET') return { object: this.scaleOf(workload), type: 'V1Scale' };
      if (scale && method === 'PUT') return { object: this.putScale(kind, workload, this.received(body, 'V1Scale', method, path)), type: 'V1Scale' };
      if (!scale && method === 'GET') return { object: workload, type: kind === 'Deployment' ? 'V1Deployment' : 'V1StatefulSet' };
      if (!scale && method === 'PATCH') {
        if (!contentType.startsWith('application/json-patch+json')) throw new HttpStatus(415, 'UnsupportedMediaType', `the stand-in takes JSON patches only, not ${contentType}`);
        return { object: this.patchWorkload(kind, workload, body), type: kind === 'Deployment' ? 'V1Deployment' : 'V1StatefulSet' };
      }
      throw new HttpStatus(405, 'MethodNotAllowed', `${method} ${path} is not served by the stand-in`);
    }
    m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets$/.exec(path);
    if (m && method === 'GET') {
      const selector = parseSelector(url.searchParams.get('labelSelector'));
      const items = [...this.replicaSets.values()].filter((rs) => rs.metadata?.namespace === m![1] && matches(rs.metadata?.labels, selector));
      return { object: { apiVersion: 'apps/v1', kind: 'ReplicaSetList', metadata: { resourceVersion: String(this.version) }, items }, type: 'V1ReplicaSetList' };
    }
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path);
    if (m && method === 'GET') {
      const selector = parseSelector(url.searchParams.get('labelSelector'));
      const items = [...this.pods.values()].filter((p) => p.metadata?.namespace === m![1] && matches(p.metadata?.labels, selector));
      return { object: { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(this.version) }, items }, type: 'V1PodList' };
    }
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
    if (m) {
      const pod = this.pods.get(key(m[1], m[2]));
      if (!pod) throw new HttpStatus(404, 'NotFound', `pods "${m[2]}" not found`);
      if (method === 'GET') return { object: pod, type: 'V1Pod' };
      if (method === 'DELETE') return { object: this.deletePod(pod, body === undefined ? {} : this.received(body, 'V1DeleteOptions', method, path)), type: 'V1Pod' };
    }
    throw new HttpStatus(404, 'NotFound', `the stand-in does not serve ${method} ${path}`);
  }

  private received<T>(body: unknown, type: string, method: string, path: string): T {
    const problems = kubernetesTypeProblems(body, type);
    if (problems.length > 0) {
      this.problems.push(...problems.map((p) => `${method} ${path} sent an invalid ${type}: ${p}`));
      throw new HttpStatus(422, 'Invalid', `invalid ${type}: ${problems.join('; ')}`);
    }
    return body as T;
  }

  private checkServed(object: unknown, type: string, request: string): void {
    const problems = kubernetesTypeProblems(object, type);
    if (problems.length > 0) this.problems.push(...problems.map((p) => `the stand-in served an invalid ${type} for ${request}: ${p}`));
  }

  private workload(kind: WorkloadKind, namespace: string, name: string): V1Deployment | V1StatefulSet {
    const found = (kind === 'Deployment' ? this.deployments : this.statefulSets).get(key(namespace, name));
    if (!found) throw new HttpStatus(404, 'NotFound', `${kind === 'Deployment' ? 'deployments.apps' : 'statefulsets.apps'} "${name}" not found`);
    return found;
  }

  private scaleOf(workload: V1Deployment | V1StatefulSet): V1Scale {
    const { name, namespace, uid, resourceVersion, creationTimestamp } = workload.metadata!;
    const selector = Object.entries(workload.spec?.selector?.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
      spec: { replicas: workload.spec?.replicas },
      status: { replicas: workload.status?.replicas ?? 0, selector },
    };
  }

  private putScale(kind: WorkloadKind, workload: V1Deployment | V1StatefulSet, scale: V1Scale): V1Scale {
    const expected = scale.metadata?.resourceVersion;
    if (expected && expected !== workload.metadata?.resourceVersion) {
      throw new HttpStatus(409, 'Conflict', `Operation cannot be fulfilled on ${kind.toLowerCase()}s.apps "${workload.metadata?.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const replicas = scale.spec?.replicas;
    if (replicas === undefined || replicas < 0) throw new HttpStatus(422, 'Invalid', 'spec.replicas: must be a non-negative integer');
    const from = workload.spec!.replicas ?? 1;
    if (replicas !== from) {
      const claim = this.claimOn(workload.metadata?.annotations);
      const workloadKey = key(workload.metadata!.namespace!, workload.metadata!.name!);
      this.effects.push({ remediationId: claim?.id ?? null, namespace: workload.metadata!.namespace!, verb: 'scaled', object: `${kind.toLowerCase()}/${workload.metadata?.name}` });
      if (replicas > from) this.pendingStarts.set(workloadKey, { remediationId: claim?.id ?? null, count: replicas - from });
      else this.pendingStarts.delete(workloadKey);
      workload.spec!.replicas = replicas;
      workload.metadata!.generation = (workload.metadata!.generation ?? 0) + 1;
      this.touch(workload);
    }
    return this.scaleOf(workload);
  }

  /** RFC 6902 on the stored object; a `/metadata/resourceVersion` in the patch is a precondition, as in the API server. */
  private patchWorkload(kind: WorkloadKind, workload: V1Deployment | V1StatefulSet, body: unknown): V1Deployment | V1StatefulSet {
    const where = `PATCH ${kind.toLowerCase()} ${workload.metadata?.name}`;
    const opProblems = Array.isArray(body)
      ? body.flatMap((op, i) =>
          isPlainObject(op) && ['add', 'replace', 'remove', 'test'].includes(op.op as string) && typeof op.path === 'string' && Object.keys(op).every((k) => ['op', 'path', 'value'].includes(k))
            ? []
            : [`[${i}]: not a JSON patch operation: ${JSON.stringify(op)}`],
        )
      : ['the body is not a JSON patch (an array of operations)'];
    if (opProblems.length > 0) {
      this.problems.push(...opProblems.map((p) => `${where}: ${p}`));
      throw new HttpStatus(400, 'BadRequest', opProblems.join('; '));
    }
    const patched = applyJsonPatch(workload, body as { op: string; path: string; value?: unknown }[]);
    const problems = kubernetesTypeProblems(patched, kind === 'Deployment' ? 'V1Deployment' : 'V1StatefulSet');
    if (problems.length > 0) {
      this.problems.push(...problems.map((p) => `${where} made an invalid ${kind}: ${p}`));
      throw new HttpStatus(422, 'Invalid', problems.join('; '));
    }
    if (patched.metadata?.resourceVersion !== workload.metadata?.resourceVersion) {
      throw new HttpStatus(409, 'Conflict', `Operation cannot be fulfilled on ${kind.toLowerCase()}s.apps "${workload.metadata?.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const metadataChanged = Object.keys({ ...patched.metadata, ...workload.metadata }).filter(
      (k) => canonicalJson((patched.metadata as Record<string, unknown>)[k]) !== canonicalJson((workload.metadata as Record<string, unknown>)[k]),
    );
    const unmodelled = metadataChanged.filter((k) => k !== 'annotations' && k !== 'labels');
    if (unmodelled.length > 0) throw new HttpStatus(422, 'Invalid', `the stand-in patches metadata.annotations and metadata.labels only, not metadata.${unmodelled.join(', metadata.')}`);
    const changed = Object.keys(patched).filter((k) => k !== 'metadata' && k !== 'spec' && canonicalJson((patched as Record<string, unknown>)[k]) !== canonicalJson((workload as Record<string, unknown>)[k]));
    if (changed.some((k) => k !== 'status' && k !== 'apiVersion' && k !== 'kind')) throw new HttpStatus(422, 'Invalid', `the stand-in only patches metadata and spec, not ${changed.join(', ')}`);
    const templateChanged = canonicalJson(patched.spec?.template) !== canonicalJson(workload.spec?.template);
    const specChanged = canonicalJson(patched.spec) !== canonicalJson(workload.spec);
    const claim = this.claimOn(patched.metadata?.annotations);
    workload.metadata!.annotations = patched.metadata?.annotations;
    workload.metadata!.labels = patched.metadata?.labels;
    if (specChanged) {
      if (patched.spec?.replicas !== workload.spec?.replicas) throw new HttpStatus(422, 'Invalid', 'the stand-in changes replicas through the scale subresource only');
      if (templateChanged && kind === 'Deployment') {
        const deployment = workload;
        const previous = this.ownedReplicaSets(deployment).find((rs) => sameTemplate(rs.spec?.template, patched.spec?.template));
        this.effects.push({
          remediationId: claim?.id ?? null,
          namespace: deployment.metadata!.namespace!,
          verb: previous ? 'rolled_back' : 'called',
          object: `deployment/${deployment.metadata?.name}`,
          ...(previous ? {} : { detail: { note: 'the template changed to one no ReplicaSet had' } }),
        });
      }
      workload.spec = patched.spec;
      workload.metadata!.generation = (workload.metadata!.generation ?? 0) + 1;
    }
    this.touch(workload);
    return workload;
  }

  private deletePod(pod: V1Pod, options: k8s.V1DeleteOptions): k8s.V1Pod {
    const uid = options.preconditions?.uid;
    if (uid && uid !== pod.metadata?.uid) {
      throw new HttpStatus(409, 'Conflict', `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata?.uid}`);
    }
    const owner = this.workloadOfPod(pod);
    const claim = owner && this.claimOn(owner.workload.metadata?.annotations);
    this.effects.push({
      remediationId: claim?.id ?? null,
      namespace: pod.metadata!.namespace!,
      // Under a restart the controller starts a fresh pod in its place; otherwise the pod is stopped for good.
      verb: claim?.action === 'restart' ? 'restarted' : 'stopped',
      object: `pod/${pod.metadata?.name}`,
    });
    this.pods.delete(key(pod.metadata!.namespace!, pod.metadata!.name!));
    return pod;
  }

  // ---- controllers ----------------------------------------------------------------------

  private schedule(): void {
    if (this.reconcileTimer) return;
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = null;
      this.settle();
    }, this.timing.controllerDelayMs);
  }

  /** One pass of every controller; schedules another while pods are still starting. */
  private settle(): void {
    for (const deployment of this.deployments.values()) this.reconcileDeployment(deployment);
    for (const rs of this.replicaSets.values()) this.reconcileReplicaSet(rs);
    for (const statefulSet of this.statefulSets.values()) this.reconcileStatefulSet(statefulSet);
    const now = Date.now();
    let starting = false;
    for (const pod of this.pods.values()) {
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') continue;
      if (now - Date.parse(String(pod.metadata?.creationTimestamp)) >= this.timing.readyAfterMs) {
        pod.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: this.now() }] };
        this.touch(pod);
      } else starting = true;
    }
    for (const rs of this.replicaSets.values()) this.updateStatus(rs, this.podsOwnedBy(rs.metadata!.uid!));
    for (const deployment of this.deployments.values()) this.updateDeploymentStatus(deployment);
    for (const statefulSet of this.statefulSets.values()) this.updateStatus(statefulSet, this.podsOwnedBy(statefulSet.metadata!.uid!));
    if (starting) this.schedule();
  }

  private ownedReplicaSets(deployment: V1Deployment): V1ReplicaSet[] {
    return [...this.replicaSets.values()].filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid));
  }

  private reconcileDeployment(deployment: V1Deployment): void {
    const owned = this.ownedReplicaSets(deployment);
    const maxRevision = Math.max(0, ...owned.map((rs) => Number(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0)));
    let current = owned.find((rs) => sameTemplate(rs.spec?.template, deployment.spec?.template));
    const { namespace, name } = deployment.metadata!;
    if (!current) {
      const hash = createHash('sha256').update(canonicalJson(deployment.spec?.template)).digest('hex').slice(0, 10);
      const labels = { ...deployment.spec?.template?.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: hash };
      const rsTemplate = structuredClone(deployment.spec!.template);
      rsTemplate.metadata = { ...rsTemplate.metadata, labels };
      current = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace,
          uid: randomUUID(),
          resourceVersion: this.nextVersion(),
          creationTimestamp: this.now(),
          labels,
          annotations: { [REVISION_ANNOTATION]: String(maxRevision + 1) },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: name!, uid: deployment.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
        },
        spec: { replicas: 0, selector: { matchLabels: labels }, template: rsTemplate },
        status: { replicas: 0 },
      };
      this.replicaSets.set(key(namespace!, current.metadata!.name!), current);
    } else if (Number(current.metadata?.annotations?.[REVISION_ANNOTATION]) !== maxRevision) {
      // Rolled back to an older template: its ReplicaSet becomes the newest revision, as the Deployment controller does.
      current.metadata!.annotations = { ...current.metadata?.annotations, [REVISION_ANNOTATION]: String(maxRevision + 1) };
      this.touch(current);
    }
    const revision = current.metadata!.annotations![REVISION_ANNOTATION];
    if (deployment.metadata?.annotations?.[REVISION_ANNOTATION] !== revision) {
      deployment.metadata!.annotations = { ...deployment.metadata?.annotations, [REVISION_ANNOTATION]: revision };
      this.touch(deployment);
    }
    for (const rs of this.ownedReplicaSets(deployment)) {
      const replicas = rs === current ? (deployment.spec?.replicas ?? 1) : 0;
      if (rs.spec!.replicas !== replicas) {
        rs.spec!.replicas = replicas;
        this.touch(rs);
      }
    }
  }

  private reconcileReplicaSet(rs: V1ReplicaSet): void {
    const owned = this.podsOwnedBy(rs.metadata!.uid!);
    const desired = rs.spec?.replicas ?? 0;
    const deploymentRef = rs.metadata?.ownerReferences?.[0];
    const workloadKey = key(rs.metadata!.namespace!, deploymentRef?.name ?? '');
    for (let i = owned.length; i < desired; i++) {
      const pod = this.newPod(rs, `${rs.metadata?.name}-${randomUUID().slice(0, 5)}`, 'ReplicaSet');
      this.noteStarted(workloadKey, pod);
    }
    // Surplus pods go as the ReplicaSet controller ranks them: not ready first, then the newest.
    const surplus = [...owned].sort(deletionRank).slice(0, Math.max(0, owned.length - desired));
    for (const pod of surplus) this.pods.delete(key(pod.metadata!.namespace!, pod.metadata!.name!));
  }

  private reconcileStatefulSet(statefulSet: V1StatefulSet): void {
    const { namespace, name, uid } = statefulSet.metadata!;
    const desired = statefulSet.spec?.replicas ?? 1;
    for (let ordinal = 0; ordinal < desired; ordinal++) {
      const podName = `${name}-${ordinal}`;
      if (!this.pods.has(key(namespace!, podName))) this.noteStarted(key(namespace!, name!), this.newPod(statefulSet, podName, 'StatefulSet'));
    }
    for (const pod of this.podsOwnedBy(uid!)) {
      const ordinal = Number(pod.metadata!.name!.slice(name!.length + 1));
      if (ordinal >= desired) this.pods.delete(key(namespace!, pod.metadata!.name!));
    }
  }

  private noteStarted(workloadKey: string, pod: V1Pod): void {
    const pending = this.pendingStarts.get(workloadKey);
    if (!pending || pending.count <= 0) return;
    pending.count -= 1;
    this.effects.push({ remediationId: pending.remediationId, namespace: pod.metadata!.namespace!, verb: 'started', object: `pod/${pod.metadata?.name}` });
  }

  private newPod(owner: V1ReplicaSet | V1StatefulSet, name: string, ownerKind: 'ReplicaSet' | 'StatefulSet'): V1Pod {
    const template = owner.spec!.template!;
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: owner.metadata!.namespace,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: this.now(),
        labels: { ...template.metadata?.labels },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: ownerKind, name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: structuredClone(template.spec),
      status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: this.now() }] },
    };
    this.pods.set(key(pod.metadata!.namespace!, name), pod);
    return pod;
  }

  private podsOwnedBy(uid: string): V1Pod[] {
    return [...this.pods.values()].filter((p) => p.metadata?.ownerReferences?.some((o) => o.controller && o.uid === uid));
  }

  private updateStatus(owner: V1ReplicaSet | V1StatefulSet, pods: V1Pod[]): void {
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    const status = { ...owner.status, observedGeneration: owner.metadata?.generation, replicas: pods.length, readyReplicas: ready, availableReplicas: ready };
    if (owner.kind === 'StatefulSet') Object.assign(status, { currentReplicas: pods.length, updatedReplicas: pods.length });
    if (JSON.stringify(status) !== JSON.stringify(owner.status)) {
      owner.status = status;
      this.touch(owner);
    }
  }

  private updateDeploymentStatus(deployment: V1Deployment): void {
    const owned = this.ownedReplicaSets(deployment);
    const current = owned.find((rs) => sameTemplate(rs.spec?.template, deployment.spec?.template));
    const all = owned.flatMap((rs) => this.podsOwnedBy(rs.metadata!.uid!));
    const updated = current ? this.podsOwnedBy(current.metadata!.uid!) : [];
    const available = updated.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    const status = {
      observedGeneration: deployment.metadata?.generation,
      replicas: all.length,
      updatedReplicas: updated.length,
      readyReplicas: all.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length,
      availableReplicas: available,
    };
    if (JSON.stringify(status) !== JSON.stringify(deployment.status)) {
      deployment.status = status;
      this.touch(deployment);
    }
  }

  private workloadOfPod(pod: V1Pod): { kind: WorkloadKind; workload: V1Deployment | V1StatefulSet } | null {
    const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
    if (owner?.kind === 'StatefulSet') {
      const statefulSet = [...this.statefulSets.values()].find((s) => s.metadata?.uid === owner.uid);
      return statefulSet ? { kind: 'StatefulSet', workload: statefulSet } : null;
    }
    const rs = [...this.replicaSets.values()].find((r) => r.metadata?.uid === owner?.uid);
    const deploymentUid = rs?.metadata?.ownerReferences?.find((o) => o.controller)?.uid;
    const deployment = [...this.deployments.values()].find((d) => d.metadata?.uid === deploymentUid);
    return deployment ? { kind: 'Deployment', workload: deployment } : null;
  }

  /** The remediation holding the workload's lease, read the way the driver writes it. */
  private claimOn(annotations: Record<string, string> | undefined): { id: string; action: string } | undefined {
    return leaseHolder(readRecords(annotations), new Date());
  }

  private touch(object: { metadata?: { resourceVersion?: string } }): void {
    object.metadata!.resourceVersion = this.nextVersion();
  }

  private nextVersion(): string {
    this.version += 1;
    return String(this.version);
  }

  private now(): Date {
    // Kept as an RFC 3339 string on the wire; typed as Date by the client's models.
    return new Date().toISOString() as unknown as Date;
  }
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function template(labels: Record<string, string>, image: string): V1PodTemplateSpec {
  return { metadata: { labels: { ...labels } }, spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] } };
}

function sameTemplate(a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined): boolean {
  const strip = (t: V1PodTemplateSpec | undefined) => {
    const copy = structuredClone(t ?? {});
    if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    return canonicalJson(copy);
  };
  return strip(a) === strip(b);
}

/** JSON with object keys sorted: the same object whatever order a client wrote its fields in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

function matches(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** `a=b,c=d` only; anything else the stand-in does not model and answers 400. */
function parseSelector(raw: string | null): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const part of (raw ?? '').split(',').filter(Boolean)) {
    const m = /^([A-Za-z0-9./_-]+)==?([A-Za-z0-9._-]*)$/.exec(part.trim());
    if (!m) throw new HttpStatus(400, 'BadRequest', `the stand-in understands equality label selectors only, not ${part}`);
    selector[m[1]] = m[2];
  }
  return selector;
}

function deletionRank(a: V1Pod, b: V1Pod): number {
  const ready = (p: V1Pod) => (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  return Date.parse(String(b.metadata?.creationTimestamp)) - Date.parse(String(a.metadata?.creationTimestamp));
}

/** RFC 6902 add / replace / remove / test on a copy. */
function applyJsonPatch<T>(target: T, operations: { op: string; path: string; value?: unknown }[]): T {
  const document = structuredClone(target) as unknown as Record<string, unknown>;
  for (const { op, path, value } of operations) {
    const tokens = path
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) throw new HttpStatus(422, 'Invalid', `cannot ${op} the whole document`);
    let parent: unknown = document;
    for (const token of tokens) {
      parent = isPlainObject(parent) ? parent[token] : undefined;
      if (!isPlainObject(parent)) throw new HttpStatus(422, 'Invalid', `${op} ${path}: ${token} does not exist`);
    }
    const container = parent as Record<string, unknown>;
    if ((op === 'replace' || op === 'remove' || op === 'test') && !(last in container)) throw new HttpStatus(422, 'Invalid', `${op} ${path}: the path does not exist`);
    if (op === 'test' && JSON.stringify(container[last]) !== JSON.stringify(value)) throw new HttpStatus(422, 'Invalid', `test ${path} failed`);
    if (op === 'add' || op === 'replace') container[last] = structuredClone(value);
    if (op === 'remove') delete container[last];
  }
  return document as T;
}
