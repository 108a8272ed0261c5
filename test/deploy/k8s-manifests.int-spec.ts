// deploy/k8s rendered by kustomize (Debian sid's package, tools/infra/ensure-kustomize.js), every
// object validated against the schemas of the Kubernetes version the manifests target, and the
// properties the deployment promises checked on what a cluster would receive.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { generateNatsDevMaterial } from '@autoheal/messaging';
import { findNatsServerBinary } from '@autoheal/testing';
import { validateTenantDocuments } from '../../apps/decision/src/planning/policy-port';
import { configMapsReferenced, objectKey, podTemplates, renderKustomization, secretsReferenced, selects, TARGET_KUBERNETES, validateObject, type K8sObject } from './manifests';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureKustomize } = require('../../tools/infra/ensure-kustomize.js') as { ensureKustomize: () => string };

const ROOT = join(__dirname, '..', '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SERVICES = { detector: 3001, decision: 3002, executor: 3003, auditor: 3000 } as const;
// Provided by the operator next to the Secrets (public material: keys' public halves, the CA).
const OPERATOR_CONFIGMAPS = ['autoheal-trust', 'autoheal-nats-ca', 'autoheal-agent'];

jest.setTimeout(120_000);

let kustomize: string;
let scratch: string;
const rendered: Record<string, K8sObject[]> = {};

beforeAll(() => {
  kustomize = ensureKustomize();
  scratch = mkdtempSync(join(tmpdir(), 'autoheal-k8s-'));
  // Production with every optional component, so that those are checked too.
  writeFileSync(
    join(scratch, 'kustomization.yaml'),
    // kustomize takes relative paths only. Namespace and image as an overlay that enables the components sets them.
    ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'namespace: autoheal', 'images:', '  - name: autoheal', '    newName: registry.example.com/autoheal/autoheal', `    newTag: "${VERSION}"`, 'resources:', `  - ${relative(scratch, join(K8S, 'overlays', 'production'))}`, 'components:', ...['agent-daemonset', 'console'].map((c) => `  - ${relative(scratch, join(K8S, 'components', c))}`), ''].join('\n'),
  );
  rendered.production = renderKustomization(kustomize, join(K8S, 'overlays', 'production'));
  rendered.trial = renderKustomization(kustomize, join(K8S, 'overlays', 'trial'));
  rendered['production+components'] = renderKustomization(kustomize, scratch);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const overlays = ['production', 'trial', 'production+components'];
const get = (overlay: string, kind: string, name: string) => rendered[overlay].find((o) => o.kind === kind && o.metadata.name === name);
const containersOf = (spec: V1PodSpec): V1Container[] => [...(spec.initContainers ?? []), ...spec.containers];

describe(`deploy/k8s against Kubernetes ${TARGET_KUBERNETES}`, () => {
  it('the validation refuses what the API server would: a wrong type, a misspelt field, an unknown kind', () => {
    const deployment = structuredClone(get('production', 'Deployment', 'autoheal-detector')!);
    const container = (deployment.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0];
    container.readinesProbe = { httpGet: { path: '/health/ready', port: 'http' } };
    (container.livenessProbe as Record<string, unknown>).periodSeconds = 'often';
    const problems = validateObject(deployment);
    expect(problems.join('\n')).toMatch(/livenessProbe\/periodSeconds must be integer/);
    expect(problems.join('\n')).toMatch(/containers\[0\]\.readinesProbe: unknown field/);
    expect(validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual(['Widget/w: no schema for example.com/v1/Widget (add its model to test/deploy/manifests.ts)']);
    const monitor = structuredClone(get('production', 'ServiceMonitor', 'autoheal-auditor')!);
    (monitor.spec as { endpoints: Record<string, unknown>[] }).endpoints[0].interval = 'every minute';
    expect(validateObject(monitor).join('\n')).toMatch(/interval must match pattern/);
  });

  it.each(overlays)('%s: every object is valid against its schema', (overlay) => {
    const objects = rendered[overlay];
    expect(objects.length).toBeGreaterThan(30);
    expect(objects.flatMap(validateObject)).toEqual([]);
  });

  it.each(overlays)('%s: images are pinned (never latest), autoheal at the package version', (overlay) => {
    const images = podTemplates(rendered[overlay]).flatMap((t) => containersOf(t.spec).map((c) => `${objectKey(t.owner)} ${c.image ?? ''}`));
    expect(images.length).toBeGreaterThan(0);
    for (const line of images) {
      const image = line.split(' ')[1];
      expect(`${line}: ${/@sha256:[0-9a-f]{64}$/.test(image) || /:[^/:]+$/.test(image) ? 'tagged' : 'untagged'}`).toBe(`${line}: tagged`);
      expect(image).not.toMatch(/:latest$/);
      if (/\/autoheal(:|@)/.test(image)) expect(image).toMatch(new RegExp(`:${VERSION.replace(/\./g, '\\.')}$`));
    }
  });

  it.each(overlays)('%s: every pod runs non-root with a read-only root filesystem, no privilege escalation, no capabilities', (overlay) => {
    for (const { owner, spec } of podTemplates(rendered[overlay])) {
      const context = `${overlay} ${objectKey(owner)}`;
      expect({ context, runAsNonRoot: spec.securityContext?.runAsNonRoot, seccomp: spec.securityContext?.seccompProfile?.type }).toEqual({ context, runAsNonRoot: true, seccomp: 'RuntimeDefault' });
      for (const c of containersOf(spec)) {
        expect({ context, container: c.name, ...c.securityContext }).toEqual({
          context,
          container: c.name,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  it.each(overlays)('%s: each service has startup, liveness (/health/live) and readiness (/health/ready) probes, binds the pod address, is scraped and has a disruption budget', (overlay) => {
    for (const [service, port] of Object.entries(SERVICES)) {
      const deployment = get(overlay, 'Deployment', `autoheal-${service}`)!;
      expect(deployment).toBeDefined();
      const spec = podTemplates([deployment])[0].spec;
      const main = spec.containers.find((c) => c.name === service)!;
      expect(main.args).toEqual([service]);
      expect(spec.initContainers?.map((c) => c.args)).toEqual([[service, 'migrate']]);
      expect(main.startupProbe?.httpGet?.path).toBe('/health/live');
      expect(main.livenessProbe?.httpGet?.path).toBe('/health/live');
      expect(main.readinessProbe?.httpGet?.path).toBe('/health/ready');
      const env = Object.fromEntries((main.env ?? []).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ HTTP_HOST: '0.0.0.0', [`${service.toUpperCase()}_PORT`]: String(port), NATS_STREAM_REPLICAS: '3' });
      expect(env.NATS_URL).toMatch(/^tls:\/\//);
      const podLabels = podTemplates([deployment])[0].labels;
      const service_ = get(overlay, 'Service', `autoheal-${service}`)!;
      expect((service_.spec as { ports: { port: number }[] }).ports.map((p) => p.port)).toEqual([port]);
      const monitor = rendered[overlay].find((o) => o.kind === 'ServiceMonitor' && selects((o.spec as { selector: never }).selector, service_.metadata.labels ?? {}));
      expect({ service, monitor: monitor && (monitor.spec as { endpoints: { path: string }[] }).endpoints[0].path }).toEqual({ service, monitor: '/metrics' });
      const pdb = rendered[overlay].find((o) => o.kind === 'PodDisruptionBudget' && selects((o.spec as { selector: never }).selector, podLabels));
      expect({ service, pdb: pdb?.metadata.name }).toEqual({ service, pdb: `autoheal-${service}` });
    }
  });

  it.each(overlays)('%s: the decision service reads tenant documents from a ConfigMap directory, never the legacy file, and they are valid', (overlay) => {
    const spec = podTemplates([get(overlay, 'Deployment', 'autoheal-decision')!])[0].spec;
    const main = spec.containers[0];
    const env = Object.fromEntries((main.env ?? []).map((e) => [e.name, e.value]));
    expect(env.DECISION_TENANTS_FILE).toBeUndefined();
    const mount = main.volumeMounts?.find((m) => m.mountPath === env.DECISION_TENANTS_DIR);
    const volume = spec.volumes?.find((v) => v.name === mount?.name);
    const configMap = get(overlay, 'ConfigMap', volume?.configMap?.name ?? '(none)');
    expect(configMap?.metadata.name).toMatch(/^autoheal-tenants-/);
    const documents = Object.values((configMap!.data ?? {}) as Record<string, string>).map((text) => parseYaml(text) as unknown);
    expect(documents.length).toBeGreaterThan(0);
    const validated = validateTenantDocuments(documents);
    expect(validated.ok ? [] : validated.errors).toEqual([]);
  });

  it("the trial overlay's tenant documents are deploy/tenants/, unchanged", () => {
    for (const file of readdirSync(join(ROOT, 'deploy', 'tenants'))) {
      expect(readFileSync(join(K8S, 'overlays', 'trial', 'tenants', file), 'utf8')).toBe(readFileSync(join(ROOT, 'deploy', 'tenants', file), 'utf8'));
    }
  });

  it.each(overlays)('%s: every key comes from a Secret: no literal value for a credential, and every Secret is one deploy/README.md tells the operator to create', (overlay) => {
    const readme = readFileSync(join(ROOT, 'deploy', 'README.md'), 'utf8');
    const secrets = new Set<string>();
    for (const { owner, spec } of podTemplates(rendered[overlay])) {
      for (const c of containersOf(spec)) {
        for (const e of c.env ?? []) {
          if (/KEY|SECRET|PASSWORD|TOKEN|SEED$|DATABASE.*URL/.test(e.name) && !/_FILE$/.test(e.name)) {
            expect({ at: `${objectKey(owner)} ${c.name} ${e.name}`, literal: e.value }).toEqual({ at: `${objectKey(owner)} ${c.name} ${e.name}`, literal: undefined });
          }
        }
      }
      for (const name of secretsReferenced(spec)) secrets.add(name);
    }
    expect(secrets.size).toBeGreaterThan(10);
    expect([...secrets].filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
    // Secrets are never part of the manifests: the operator (or an external secrets operator) creates them.
    expect(rendered[overlay].filter((o) => o.kind === 'Secret').map(objectKey)).toEqual([]);
  });

  it.each(overlays)('%s: every ConfigMap a pod needs is rendered or one the operator provides (listed in deploy/README.md)', (overlay) => {
    const readme = readFileSync(join(ROOT, 'deploy', 'README.md'), 'utf8');
    const names = new Set(podTemplates(rendered[overlay]).flatMap((t) => configMapsReferenced(t.spec)));
    const missing = [...names].filter((name) => !get(overlay, 'ConfigMap', name) && !(OPERATOR_CONFIGMAPS.includes(name) && readme.includes(`\`${name}\``)));
    expect(missing).toEqual([]);
  });

  it.each(overlays)('%s: NATS is a 3-server JetStream cluster with fsync on every write, TLS for clients and routes, NKey users from a Secret', (overlay) => {
    const nats = get(overlay, 'StatefulSet', 'nats')!;
    expect((nats.spec as { replicas: number }).replicas).toBe(3);
    const spec = podTemplates([nats])[0].spec;
    const config = spec.volumes!.find((v) => v.name === 'config')!.projected!.sources!;
    const configMap = get(overlay, 'ConfigMap', config.find((s) => s.configMap)!.configMap!.name!)!;
    const conf = (configMap.data as Record<string, string>)['nats-server.conf'];
    expect(conf).toMatch(/jetstream \{[^}]*sync_interval: always/);
    expect(conf).toMatch(/^tls \{/m);
    expect(conf).toMatch(/cluster \{[\s\S]*tls \{[\s\S]*verify: true/);
    expect(conf.match(/nats:\/\/nats-\d\.nats-headless:6222/g)).toHaveLength(3);
    expect(conf).toMatch(/include users\.conf/);
    expect(config.find((s) => s.secret)?.secret?.name).toBe('autoheal-nats-users');
    const pdb = rendered[overlay].find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'nats')!;
    expect((pdb.spec as { maxUnavailable: number }).maxUnavailable).toBe(1);
    const main = spec.containers[0];
    expect([main.startupProbe, main.livenessProbe, main.readinessProbe].every(Boolean)).toBe(true);
  });

  it('the NATS configuration is one nats-server accepts, with TLS material and the users file of the services', () => {
    const configMap = rendered.production.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('nats-config-'))!;
    const dir = join(scratch, 'nats');
    // Users and certificates as the operator's Secrets would hold them (dev material of the same shape).
    const material = generateNatsDevMaterial({ dir, identities: (['detector', 'decision', 'executor', 'auditor'] as const).map((service) => ({ kind: 'service' as const, service })), port: 4222, storeDir: join(dir, 'store') });
    copyFileSync(material.certFile, join(dir, 'tls.crt'));
    copyFileSync(material.keyFile, join(dir, 'tls.key'));
    copyFileSync(material.caFile, join(dir, 'ca.crt'));
    const conf = (configMap.data as Record<string, string>)['nats-server.conf']
      .replaceAll('/etc/nats/tls/', `${dir}/`)
      .replace('/data/jetstream', join(dir, 'store'))
      .replace('/var/run/nats/', `${dir}/`);
    writeFileSync(join(dir, 'production.conf'), conf);
    // `-t`: parse and check the configuration (and the files it names), then exit.
    const check = spawnSync(findNatsServerBinary(), ['-c', join(dir, 'production.conf'), '-t'], { encoding: 'utf8', env: { ...process.env, SERVER_NAME: 'nats-0' } });
    expect({ status: check.status, output: `${check.stdout}${check.stderr}`.trim() }).toEqual({ status: 0, output: expect.stringMatching(/configuration file .* is valid/) as unknown });
  });

  it.each(overlays)('%s: NetworkPolicies deny by default and allow only the flows the architecture names', (overlay) => {
    const policies = rendered[overlay].filter((o) => o.kind === 'NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'default-deny')!;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    // Every pod is selected by at least one policy besides default-deny and DNS (it has a stated purpose).
    for (const { owner, labels } of podTemplates(rendered[overlay])) {
      const own = policies.filter((p) => !['default-deny', 'allow-dns'].includes(p.metadata.name) && selects((p.spec as { podSelector: never }).podSelector, labels));
      expect({ pod: objectKey(owner), policies: own.length > 0 }).toEqual({ pod: objectKey(owner), policies: true });
    }
    // NATS clients on 4222 are the pods labelled as such, and only they.
    const natsPolicy = policies.find((p) => p.metadata.name === 'nats')!;
    expect(natsPolicy.spec).toMatchObject({ ingress: [{ from: [{ podSelector: { matchLabels: { 'autoheal.dev/nats-client': 'true' } } }], ports: [{ port: 4222 }] }, { ports: [{ port: 6222 }] }] });
  });

  it.each(overlays)('%s: every namespaced object lands in the overlay namespace', (overlay) => {
    const namespaces = rendered[overlay].filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name);
    expect(namespaces).toHaveLength(1);
    const stray = rendered[overlay].filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== namespaces[0]).map(objectKey);
    expect(stray).toEqual([]);
  });

  it('the agent is a DaemonSet option of apps/agent, and the console the image’s console app, in the rendered component set', () => {
    const agent = get('production+components', 'DaemonSet', 'autoheal-agent')!;
    expect(podTemplates([agent])[0].spec.containers[0].args).toEqual(['agent']);
    expect(get('production', 'DaemonSet', 'autoheal-agent')).toBeUndefined();
    expect(get('trial', 'DaemonSet', 'autoheal-agent')).toBeDefined();
    expect(podTemplates([get('production+components', 'Deployment', 'autoheal-console')!])[0].spec.containers[0].args).toEqual(['console']);
  });
});
