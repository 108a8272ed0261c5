// Renders deploy/k8s with kustomize and checks every object against the Kubernetes schemas:
// the JSON-schema validators of `kubernetes-models` (generated from the Kubernetes 1.33 OpenAPI
// document; ServiceMonitor from the prometheus-operator CRD's schema), plus a strict pass that
// refuses fields the API does not have (`readinesProbe`), which the schemas let through, as the
// API server's strict field validation would.
import { execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

/** The Kubernetes version the manifests target: kubernetes-models 4.5.1 is generated from its OpenAPI. */
export const TARGET_KUBERNETES = '1.33';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** One schema per apiVersion/kind the manifests use; a kind without one fails validation. */
const MODELS: Record<string, { model: ModelClass; strict?: string }> = {
  'apps/v1/Deployment': { model: Deployment, strict: 'V1Deployment' },
  'apps/v1/StatefulSet': { model: StatefulSet, strict: 'V1StatefulSet' },
  'apps/v1/DaemonSet': { model: DaemonSet, strict: 'V1DaemonSet' },
  'v1/Service': { model: Service, strict: 'V1Service' },
  'v1/ServiceAccount': { model: ServiceAccount, strict: 'V1ServiceAccount' },
  'v1/ConfigMap': { model: ConfigMap, strict: 'V1ConfigMap' },
  'v1/Secret': { model: Secret, strict: 'V1Secret' },
  'v1/Namespace': { model: Namespace, strict: 'V1Namespace' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, strict: 'V1NetworkPolicy' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, strict: 'V1PodDisruptionBudget' },
  // A custom resource: its CRD's schema (prometheus-operator); no strict pass (no client model).
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor },
};

export function renderKustomization(kustomize: string, dir: string): K8sObject[] {
  const text = execFileSync(kustomize, ['build', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export const objectKey = (o: K8sObject) => `${o.kind}/${o.metadata?.name}`;

type TypeMap = { name: string; baseName: string; type: string }[];
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => TypeMap } | undefined>;

/** Fields the API does not know, by path, walking the client library's model of each type. */
export function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1], `${path}[${i}]`)) : [];
  if (/^\{ \[key: string\]: (.+); \}$/.test(type)) {
    const inner = /^\{ \[key: string\]: (.+); \}$/.exec(type)![1];
    return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, inner, `${path}.${k}`)) : [];
  }
  const model = models[type];
  if (!model?.getAttributeTypeMap || typeof value !== 'object' || Array.isArray(value)) return [];
  const attributes = model.getAttributeTypeMap();
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (!attribute) problems.push(`${path}.${key}: unknown field`);
    else problems.push(...unknownFields(child, attribute.type, `${path}.${key}`));
  }
  return problems;
}

/** Every problem of one object: no schema for its kind, schema errors, unknown fields. */
export function validateObject(object: K8sObject): string[] {
  const gvk = `${object.apiVersion}/${object.kind}`;
  const entry = MODELS[gvk];
  if (!entry) return [`${objectKey(object)}: no schema for ${gvk} (add its model to test/deploy/manifests.ts)`];
  const problems: string[] = [];
  try {
    new entry.model(structuredClone(object) as never).validate();
  } catch (error) {
    problems.push(`${objectKey(object)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (entry.strict) problems.push(...unknownFields(object, entry.strict, objectKey(object)));
  return problems;
}

export interface PodTemplateOf {
  owner: K8sObject;
  spec: k8s.V1PodSpec;
  labels: Record<string, string>;
}

/** The pod template of each workload (Deployment, StatefulSet, DaemonSet). */
export function podTemplates(objects: readonly K8sObject[]): PodTemplateOf[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind))
    .map((o) => {
      const template = (o.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: k8s.V1PodSpec } }).template;
      return { owner: o, spec: template.spec, labels: template.metadata?.labels ?? {} };
    });
}

/** Secret names a pod spec references: envFrom, env valueFrom, volumes (plain and projected). */
export function secretsReferenced(spec: k8s.V1PodSpec): string[] {
  const names = new Set<string>();
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.add(e.secretRef.name);
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name);
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName) names.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret?.name) names.add(s.secret.name);
  }
  return [...names];
}

/** ConfigMap names a pod spec references. */
export function configMapsReferenced(spec: k8s.V1PodSpec): string[] {
  const names = new Set<string>();
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const e of c.envFrom ?? []) if (e.configMapRef?.name) names.add(e.configMapRef.name);
    for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef?.name) names.add(e.valueFrom.configMapKeyRef.name);
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap?.name) names.add(v.configMap.name);
    for (const s of v.projected?.sources ?? []) if (s.configMap?.name) names.add(s.configMap.name);
  }
  return [...names];
}

/** Whether a label selector (matchLabels / matchExpressions In) selects these labels. */
export function selects(selector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => (e.operator === 'In' ? (e.values ?? []).includes(labels[e.key] ?? '') : e.operator === 'Exists' ? e.key in labels : true));
  return byLabels && byExpressions;
}
