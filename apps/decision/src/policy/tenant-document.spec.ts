import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatOf, parseDocumentText } from './document-text.js';
import { buildTenantDocumentJsonSchema } from './json-schema.js';
import { diffDocuments, diffValues, documentVersion, validateTenantDocuments, type TenantDocument } from './tenant-document.js';

const valid: TenantDocument = {
  apiVersion: 'autoheal/v1',
  tenantId: 'acme-health',
  displayName: 'Acme Health',
  frameworks: ['HIPAA'],
  overrides: { maxAutoActionsPerHour: 4 },
  inventory: {
    services: [
      {
        service: 'patient-api',
        instances: [
          { instance: 'patient-api-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' },
          { instance: 'patient-api-2', region: 'us-east-1', zone: 'us-east-1b', pool: 'dedicated' },
        ],
        standbyRegions: ['us-east-2'],
      },
    ],
  },
  playbooks: { crashed: { candidates: [{ action: 'restart', emergency: true }, { action: 'replace', when: { minSeverity: 'major' } }] } },
  escalation: {
    targets: [
      { kind: 'pagerduty', name: 'oncall', secretRef: 'ACME_PAGERDUTY_ROUTING_KEY' },
      { kind: 'webhook', name: 'soc', url: 'https://hooks.example.com/autoheal', secretRef: 'ACME_WEBHOOK_SECRET' },
    ],
  },
  maintenanceWindows: [{ start: '2027-01-10T02:00:00Z', end: '2027-01-10T04:00:00Z' }],
  changeFreezes: [{ start: '2026-12-20T00:00:00Z', end: '2027-01-04T00:00:00Z', reason: 'peak' }],
  dryRun: false,
};

const clone = (): TenantDocument => JSON.parse(JSON.stringify(valid)) as TenantDocument;

describe('validateTenantDocuments', () => {
  it('accepts valid documents and returns them', () => {
    const other = { ...clone(), tenantId: 'globex' };
    expect(validateTenantDocuments([valid, other])).toEqual({ ok: true, documents: [valid, other] });
  });

  it('lists every error of every document, and returns no document when one is invalid', () => {
    const shape = {
      ...clone(),
      apiVersion: 'autoheal/v2',
      tenantId: 'has.dot',
      frameworks: ['HIPAA', 'ISO27001'],
      overrides: { maxAutoActionsPerHour: -1, maxAutoActionPerHour: 3 },
      inventory: { services: [{ service: 'api', instances: [{ instance: 'api-1', region: 'US East', zone: 'a', pool: 'private' }] }] },
      escalation: { targets: [{ kind: 'webhook', name: 'x', url: 'ftp://example.com' }] },
    };
    const crossField: TenantDocument = {
      ...clone(),
      tenantId: 'initech',
      frameworks: ['GDPR', 'GDPR'],
      overrides: { maxAutoActionsPerHour: 9, allowedRegions: ['us-east-1'] },
      inventory: {
        services: [
          { service: 'api', instances: [{ instance: 'api-1', region: 'eu-west-1', zone: 'eu-west-1a', pool: 'shared' }] },
          { service: 'api', instances: [{ instance: 'api-1', region: 'eu-west-1', zone: 'eu-west-1b', pool: 'shared' }] },
        ],
      },
      playbooks: { crashed: { candidates: [{ action: 'restart' }, { action: 'restart' }] } },
      maintenanceWindows: [{ start: '2027-01-10T04:00:00Z', end: '2027-01-10T02:00:00Z' }],
    };
    const result = validateTenantDocuments([shape, valid, crossField, 'not a document']);
    expect(result.ok).toBe(false);
    expect('documents' in result).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => `${e.document} ${e.path}`)).toEqual([
      '0 apiVersion',
      '0 tenantId',
      '0 frameworks.1',
      '0 overrides.maxAutoActionsPerHour',
      '0 overrides',
      '0 inventory.services.0.instances.0.region',
      '0 inventory.services.0.instances.0.pool',
      '0 escalation.targets.0.url',
      '0 escalation.targets.0.secretRef',
      '2 frameworks.1',
      '2 inventory.services.1.service',
      '2 inventory.services.1.instances.0.instance',
      '2 playbooks.crashed.candidates.1.action',
      '2 maintenanceWindows.0.end',
      '2 overrides.maxAutoActionsPerHour',
      '2 overrides.allowedRegions',
      '3 (root)',
    ]);
    const messages = Object.fromEntries(result.errors.map((e) => [`${e.document} ${e.path}`, e.message]));
    expect(messages['0 overrides']).toMatch(/maxAutoActionPerHour/);
    expect(messages['2 frameworks.1']).toBe('GDPR is listed twice (first at frameworks.0)');
    expect(messages['2 inventory.services.1.service']).toBe('duplicate service api (first at inventory.services.0)');
    expect(messages['2 maintenanceWindows.0.end']).toMatch(/before it starts/);
    expect(messages['2 overrides.maxAutoActionsPerHour']).toBe('9 is looser than 6 required by GDPR; overrides may only tighten');
    expect(messages['2 overrides.allowedRegions']).toMatch(/^us-east-1 outside eu-central-1, .* allowed by GDPR/);
  });

  it('validates a playbook verify window: it must end before the verify deadline it runs under', () => {
    const withVerify = (verify: unknown): TenantDocument => ({ ...clone(), playbooks: { crashed: { candidates: [{ action: 'restart' }], verify } } }) as TenantDocument;
    const cases: { verify: unknown; error?: RegExp }[] = [
      { verify: { deadlineMs: 120_000, windowMs: 30_000 } },
      // Under the default deadline (60 s).
      { verify: { windowMs: 30_000 } },
      { verify: { deadlineMs: 30_000, windowMs: 30_000 }, error: /^windowMs \(30000\) must be shorter than the verify deadline \(30000 ms\)$/ },
      { verify: { windowMs: 60_000 }, error: /shorter than the verify deadline \(60000 ms, the default\)/ },
      { verify: { deadlineMs: 120_000, windowMs: 500 }, error: /1000/ },
      { verify: { deadlineMs: 120_000, windowMs: 1.5 }, error: /integer|int/i },
      { verify: { deadlineMs: 120_000, windowSeconds: 30 }, error: /windowSeconds/ },
    ];
    for (const { verify, error } of cases) {
      const result = validateTenantDocuments([withVerify(verify)]);
      if (!error) {
        expect({ verify, result: result.ok }).toEqual({ verify, result: true });
        continue;
      }
      expect(result.ok).toBe(false);
      const errors = result.ok ? [] : result.errors;
      expect({ verify, errors }).toEqual({ verify, errors: [expect.objectContaining({ document: 0, path: expect.stringMatching(/^playbooks\.crashed\.verify/) as string, message: expect.stringMatching(error) as string })] });
    }
  });

  it('refuses two documents for one tenant', () => {
    expect(validateTenantDocuments([valid, clone()])).toEqual({
      ok: false,
      errors: [{ document: 1, path: 'tenantId', message: 'tenant acme-health is also defined by document 0' }],
    });
  });

  it('accepts the example documents in deploy/tenants', () => {
    const dir = join(__dirname, '..', '..', '..', '..', 'deploy', 'tenants');
    const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
    expect(files).toEqual(['acme-health.yaml', 'globex-pay.yaml', 'hooli-eu.yaml', 'initech-eu.yaml']);
    const docs = files.flatMap((f) => {
      const parsed = parseDocumentText(readFileSync(join(dir, f), 'utf8'), formatOf(f));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      return parsed.documents;
    });
    const result = validateTenantDocuments(docs);
    expect(result.ok ? result.documents.map((d) => [d.tenantId, d.frameworks]) : result.errors).toEqual([
      ['acme-health', ['HIPAA']],
      ['globex-pay', ['PCI_DSS', 'SOC2']],
      ['hooli-eu', []],
      ['initech-eu', ['GDPR']],
    ]);
  });
});

describe('literal secrets', () => {
  const withTargets = (targets: unknown[]): unknown => ({ ...clone(), escalation: { targets } });
  const errorsOf = (doc: unknown) => {
    const result = validateTenantDocuments([doc]);
    return result.ok ? [] : result.errors;
  };

  it.each([
    ['a PagerDuty routing key', [{ kind: 'pagerduty', name: 'pd', routingKey: 'd41d8cd98f00b204e9800998ecf8427e' }], 'escalation.targets.0.routingKey'],
    ['a routing key under another spelling', [{ kind: 'pagerduty', name: 'pd', routing_key: 'd41d8cd98f00b204e9800998ecf8427e' }], 'escalation.targets.0.routing_key'],
    ['a webhook secret', [{ kind: 'webhook', name: 'h', url: 'https://h.example/x', secret: 'hunter2hunter2' }], 'escalation.targets.0.secret'],
    ['a token', [{ kind: 'webhook', name: 'h', url: 'https://h.example/x', secretRef: 'H', token: 'abc' }], 'escalation.targets.0.token'],
    ['credentials in a URL', [{ kind: 'webhook', name: 'h', url: 'https://ops:hunter2@h.example/x', secretRef: 'H' }], 'escalation.targets.0.url'],
    ['a credential in a URL query', [{ kind: 'webhook', name: 'h', url: 'https://h.example/x?token=abc', secretRef: 'H' }], 'escalation.targets.0.url'],
  ])('refuses %s at apply, naming the field and never echoing the value', (_what, targets, path) => {
    const errors = errorsOf(withTargets(targets));
    expect(errors.map((e) => e.path)).toEqual([path]);
    expect(errors[0].message).toMatch(/secret/);
    expect(JSON.stringify(errors)).not.toMatch(/d41d8cd98f00b204e9800998ecf8427e|hunter2|abc/);
  });

  it('refuses a secret field anywhere in the document, not only in escalation targets', () => {
    const doc = { ...clone(), inventory: { services: [{ service: 'api', instances: [], password: 'p' }] } };
    expect(errorsOf(doc).map((e) => e.path)).toEqual(['inventory.services.0.password']);
  });

  it.each([
    ['a PagerDuty routing key pasted into secretRef', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a random HMAC secret pasted into secretRef', 'q8W3vZ0pLr7Ty2Kd'],
  ])('refuses %s: a reference must look like a name', (_what, value) => {
    const errors = errorsOf(withTargets([{ kind: 'pagerduty', name: 'pd', secretRef: value }]));
    expect(errors.map((e) => e.path)).toEqual(['escalation.targets.0.secretRef']);
    expect(JSON.stringify(errors)).not.toContain(value);
  });

  it('accepts references by name for both kinds of target', () => {
    const doc = withTargets([
      { kind: 'pagerduty', name: 'pd', secretRef: 'ACME_PAGERDUTY_ROUTING_KEY' },
      { kind: 'webhook', name: 'h', url: 'https://h.example/x?team=sre', secretRef: 'ACME_WEBHOOK_SECRET' },
    ]);
    expect(errorsOf(doc)).toEqual([]);
  });
});

describe('parseDocumentText', () => {
  it('reads several YAML documents from one file, skipping empty ones', () => {
    const parsed = parseDocumentText('a: 1\n---\nb: [x, y]\n---\n', 'yaml');
    expect(parsed).toEqual({ ok: true, documents: [{ a: 1 }, { b: ['x', 'y'] }] });
  });

  it('reads one JSON document or an array of them', () => {
    expect(parseDocumentText('{"a":1}', 'json')).toEqual({ ok: true, documents: [{ a: 1 }] });
    expect(parseDocumentText('[{"a":1},{"b":2}]', 'json')).toEqual({ ok: true, documents: [{ a: 1 }, { b: 2 }] });
  });

  it('reports syntax errors with the document they are in', () => {
    const yaml = parseDocumentText('a: 1\n---\nb: [\n', 'yaml', 5);
    expect(yaml.ok).toBe(false);
    if (!yaml.ok) expect(yaml.errors[0]).toMatchObject({ document: 6, path: '(root)', message: expect.stringMatching(/^not YAML: /) as string });
    const json = parseDocumentText('{', 'json', 2);
    expect(json).toMatchObject({ ok: false, errors: [{ document: 2, message: expect.stringMatching(/^not JSON: /) as string }] });
  });

  it('chooses the format by file name', () => {
    expect([formatOf('a.json'), formatOf('a.YAML'), formatOf('a.yml')]).toEqual(['json', 'yaml', 'yaml']);
  });
});

describe('documentVersion', () => {
  it('is sha256: plus 64 hex digits and does not depend on key order', () => {
    const reordered = Object.fromEntries(Object.entries(valid).reverse()) as TenantDocument;
    expect(documentVersion(valid)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(documentVersion(reordered)).toBe(documentVersion(valid));
  });

  it('changes whenever anything changes', () => {
    const base = documentVersion(valid);
    const changed = clone();
    changed.inventory.services[0].instances[1].zone = 'us-east-1c';
    expect(documentVersion(changed)).not.toBe(base);
    expect(documentVersion({ ...valid, dryRun: true })).not.toBe(base);
  });
});

describe('diffDocuments', () => {
  it('lists every top-level field of a new tenant', () => {
    expect(diffDocuments(null, valid).map((c) => c.path)).toEqual(Object.keys(valid).sort());
    expect(diffDocuments(null, valid).every((c) => !('from' in c))).toBe(true);
  });

  it('is empty for equal documents and for reordered named lists', () => {
    const reordered = clone();
    reordered.inventory.services[0].instances.reverse();
    reordered.escalation!.targets.reverse();
    expect(diffDocuments(valid, clone())).toEqual([]);
    expect(diffDocuments(valid, reordered)).toEqual([]);
  });

  it('names what changed leaf by leaf, list members by their name', () => {
    const after = clone();
    after.overrides = { maxAutoActionsPerHour: 2, cooldownMs: 300_000 };
    after.inventory.services[0].instances[1].region = 'us-east-2';
    after.inventory.services.push({ service: 'billing', instances: [{ instance: 'billing-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }] });
    after.frameworks = ['HIPAA', 'SOC2'];
    delete after.displayName;
    after.playbooks!.crashed!.candidates.reverse();
    expect(diffDocuments(valid, after)).toEqual([
      { path: 'displayName', from: 'Acme Health' },
      { path: 'frameworks', from: ['HIPAA'], to: ['HIPAA', 'SOC2'] },
      { path: 'inventory.services.billing', to: after.inventory.services[1] },
      { path: 'inventory.services.patient-api.instances.patient-api-2.region', from: 'us-east-1', to: 'us-east-2' },
      { path: 'overrides.cooldownMs', to: 300_000 },
      { path: 'overrides.maxAutoActionsPerHour', from: 4, to: 2 },
      // Order matters in a playbook: the candidate list changes as a whole.
      { path: 'playbooks.crashed.candidates', from: valid.playbooks!.crashed!.candidates, to: after.playbooks!.crashed!.candidates },
    ]);
  });

  it('diffs profiles with a prefix', () => {
    expect(diffValues('profile', { maxAutoActionsPerHour: 6, isolation: 'shared' }, { maxAutoActionsPerHour: 4, isolation: 'shared' })).toEqual([
      { path: 'profile.maxAutoActionsPerHour', from: 6, to: 4 },
    ]);
  });
});

describe('published JSON Schema', () => {
  it('is up to date with the zod schema (regenerate with `node apps/decision/dist/policy/generate-schema.js` after a build)', () => {
    const published: unknown = JSON.parse(readFileSync(join(__dirname, '..', '..', 'schema', 'tenant-document.schema.json'), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(buildTenantDocumentJsonSchema())));
  });

  it('describes the document as the validator does', () => {
    const schema = buildTenantDocumentJsonSchema() as { required: string[]; additionalProperties: boolean };
    expect(schema.required.sort()).toEqual(['apiVersion', 'frameworks', 'inventory', 'tenantId']);
    expect(schema.additionalProperties).toBe(false);
  });
});
