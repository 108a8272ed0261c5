import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, healingAction, remediationRuntime, subjectToken } from '@autoheal/contracts';
import { FRAMEWORKS, looserOverrides } from './compliance-presets.js';
import { playbooksSchema } from './playbooks.js';
import { literalSecrets, secretRefSchema } from './secret-refs.js';

/** A cloud region or zone name as the inventory states it (`eu-west-1`, `eu-west-1a`). */
const placeName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and - (a region or zone name)');

const frameworkSchema = z.enum(FRAMEWORKS);
const actionList = z.array(healingAction).max(6);

/** Per-tenant thresholds; every one optional, and each may only tighten what the frameworks impose. */
export const profileOverridesSchema = z
  .object({
    availabilityTarget: z.number().gt(0).lt(1).optional(),
    maxTimeToRemediateMs: z.number().int().positive().optional(),
    allowedRegions: z.union([z.literal('any'), z.array(placeName)]).optional(),
    isolation: z.enum(['dedicated', 'shared']).optional(),
    autoActions: actionList.optional(),
    approvalActions: actionList.optional(),
    maxAutoActionsPerHour: z.number().int().nonnegative().optional(),
    auditRetentionDays: z.number().int().positive().optional(),
    cooldownMs: z.number().int().nonnegative().optional(),
    maxConcurrentShare: z.number().gt(0).max(1).optional(),
    approvalTimeoutMs: z.number().int().positive().optional(),
  })
  .strict();

/** A time window, both ends RFC 3339; the window holds at `start` and ends just before `end`. */
export const windowSchema = z
  .object({
    start: z.iso.datetime({ offset: true }),
    end: z.iso.datetime({ offset: true }),
    reason: z.string().min(1).max(500).optional(),
  })
  .strict();

const httpUrl = z.url({ protocol: /^https?$/ });

export const escalationTargetSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('pagerduty'),
      name: z.string().min(1).max(200),
      /** Names the secret holding the Events v2 integration (routing) key; never the key itself. */
      secretRef: secretRefSchema,
      /** Defaults to PagerDuty's Events v2 endpoint; set for a compatible receiver. */
      url: httpUrl.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('webhook'),
      name: z.string().min(1).max(200),
      url: httpUrl,
      /** Names the secret holding the HMAC key; never the key itself. */
      secretRef: secretRefSchema,
    })
    .strict(),
]);

const instanceSchema = z
  .object({
    instance: subjectToken,
    region: placeName,
    zone: placeName,
    /** `dedicated`: capacity only this tenant uses; `shared`: capacity shared with other customers. */
    pool: z.enum(['shared', 'dedicated']),
  })
  .strict();

const serviceSchema = z
  .object({
    service: subjectToken,
    instances: z.array(instanceSchema).min(1).max(1000),
    /** Regions a failover may move the service to. */
    standbyRegions: z.array(placeName).max(20).optional(),
    /** How the service runs, which picks the executor's driver and the actions that can be planned for it; absent: `agent`. */
    runtime: remediationRuntime.optional(),
    /** scale_out: grow to at most this many instances, and scale back in once the incident has stayed resolved this long. Absent: twice the declared instances, 10 minutes. */
    scaleOut: z
      .object({ maxInstances: z.number().int().min(1).max(1000), scaleInAfterMs: z.number().int().min(0).max(86_400_000) })
      .strict()
      .optional(),
    /**
     * The warm spares the service's host agent keeps (its agent config's `warmSpares`). The arm
     * the decision service plans while the tenant's policy would heal a crash of the service
     * automatically allows the switch to a spare with at least one, and only then when the heal is
     * a replace (see the README, *Armed switchover*).
     */
    warmSpares: z.number().int().min(0).max(8).optional(),
    /** throttle: the requests per second an instance still admits, and for how long. Absent: throttle is not planned for the service. */
    throttle: z
      .object({ limitPerSecond: z.number().positive().max(1_000_000), ttlMs: z.number().int().min(1_000).max(86_400_000) })
      .strict()
      .optional(),
  })
  .strict();

function duplicates<T>(items: readonly T[], key: (item: T) => string): { index: number; first: number; value: string }[] {
  const seen = new Map<string, number>();
  const out: { index: number; first: number; value: string }[] = [];
  items.forEach((item, index) => {
    const value = key(item);
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    else out.push({ index, first, value });
  });
  return out;
}

/**
 * One tenant as code. Unknown keys are errors (a misspelt threshold must not silently fall back
 * to a preset). Cross-field rules (duplicates, windows that end before they start, overrides that
 * loosen a framework) run once the shape is valid.
 */
const tenantDocumentObject = z
  .object({
    apiVersion: z.literal('autoheal/v1'),
    tenantId: subjectToken,
    displayName: z.string().min(1).max(200).optional(),
    /** The compliance frameworks the tenant is under; the strictest value of each threshold wins. */
    frameworks: z.array(frameworkSchema).max(FRAMEWORKS.length),
    overrides: profileOverridesSchema.optional(),
    inventory: z.object({ services: z.array(serviceSchema).max(1000) }).strict(),
    playbooks: playbooksSchema.optional(),
    escalation: z.object({ targets: z.array(escalationTargetSchema).max(20) }).strict().optional(),
    /** Nothing is done automatically inside a maintenance window; incidents are held. */
    maintenanceWindows: z.array(windowSchema).max(100).optional(),
    /** Inside a change freeze only playbook candidates marked emergency may run. */
    changeFreezes: z.array(windowSchema).max(100).optional(),
    /** Every plan for the tenant is recorded but not executed. */
    dryRun: z.boolean().optional(),
  })
  .strict();

export type Window = z.infer<typeof windowSchema>;
export type EscalationTarget = z.infer<typeof escalationTargetSchema>;
export type InventoryInstance = z.infer<typeof instanceSchema>;
export type InventoryService = z.infer<typeof serviceSchema>;
export type TenantDocument = z.infer<typeof tenantDocumentObject>;

export const tenantDocumentSchema: z.ZodType<TenantDocument> = tenantDocumentObject.superRefine((doc, ctx) => {
  for (const d of duplicates(doc.frameworks, (f) => f)) {
    ctx.addIssue({ code: 'custom', path: ['frameworks', d.index], message: `${d.value} is listed twice (first at frameworks.${d.first})` });
  }
  const services = doc.inventory.services;
  for (const d of duplicates(services, (s) => s.service)) {
    ctx.addIssue({ code: 'custom', path: ['inventory', 'services', d.index, 'service'], message: `duplicate service ${d.value} (first at inventory.services.${d.first})` });
  }
  const instances = services.flatMap((s, si) => s.instances.map((i, ii) => ({ name: i.instance, path: ['inventory', 'services', si, 'instances', ii, 'instance'] })));
  for (const d of duplicates(instances, (i) => i.name)) {
    ctx.addIssue({ code: 'custom', path: instances[d.index].path, message: `duplicate instance ${d.value} (instance names are unique across the tenant)` });
  }
  services.forEach((s, si) => {
    for (const d of duplicates(s.standbyRegions ?? [], (r) => r)) {
      ctx.addIssue({ code: 'custom', path: ['inventory', 'services', si, 'standbyRegions', d.index], message: `${d.value} is listed twice` });
    }
  });
  for (const [kind, playbook] of Object.entries(doc.playbooks ?? {})) {
    for (const d of duplicates(playbook?.candidates ?? [], (c) => c.action)) {
      ctx.addIssue({ code: 'custom', path: ['playbooks', kind, 'candidates', d.index, 'action'], message: `${d.value} is already candidate ${d.first} of this playbook` });
    }
  }
  for (const d of duplicates(doc.escalation?.targets ?? [], (t) => t.name)) {
    ctx.addIssue({ code: 'custom', path: ['escalation', 'targets', d.index, 'name'], message: `duplicate escalation target ${d.value}` });
  }
  for (const field of ['maintenanceWindows', 'changeFreezes'] as const) {
    (doc[field] ?? []).forEach((w, i) => {
      if (Date.parse(w.end) <= Date.parse(w.start)) ctx.addIssue({ code: 'custom', path: [field, i, 'end'], message: `ends (${w.end}) before it starts (${w.start})` });
    });
  }
  if (doc.overrides) {
    for (const loose of looserOverrides(doc.frameworks, doc.overrides)) {
      ctx.addIssue({ code: 'custom', path: ['overrides', loose.threshold], message: loose.message });
    }
  }
});

export interface DocumentError {
  /** Index of the document in the list given. */
  document: number;
  /** Dotted path inside the document (`inventory.services.0.instances.1.region`), `(root)` for the whole. */
  path: string;
  message: string;
}

export type ValidationResult = { ok: true; documents: TenantDocument[] } | { ok: false; errors: DocumentError[] };

/**
 * Validates a set of documents applied together: all or nothing. Every error of every document
 * is listed (and tenant ids must be unique across the set); no document is returned unless all
 * are valid.
 */
export function validateTenantDocuments(docs: unknown[]): ValidationResult {
  const errors: DocumentError[] = [];
  const documents: TenantDocument[] = [];
  docs.forEach((raw, document) => {
    // A literal secret is named as such, and the document goes no further: its value must not
    // reach any error message, version or event.
    const secrets = literalSecrets(raw);
    if (secrets.length > 0) {
      for (const s of secrets) errors.push({ document, path: s.path.map(String).join('.'), message: s.message });
      return;
    }
    const result = tenantDocumentSchema.safeParse(raw);
    if (result.success) {
      documents.push(result.data);
      return;
    }
    for (const issue of result.error.issues) {
      errors.push({ document, path: issue.path.map(String).join('.') || '(root)', message: issue.message });
    }
  });
  if (errors.length === 0) {
    for (const d of duplicates(documents, (doc) => doc.tenantId)) {
      errors.push({ document: d.index, path: 'tenantId', message: `tenant ${d.value} is also defined by document ${d.first}` });
    }
  }
  return errors.length > 0 ? { ok: false, errors: errors.sort((a, b) => a.document - b.document) } : { ok: true, documents };
}

/** `sha256:` + the hex sha256 of the document's canonical JSON: the policy version it defines. */
export function documentVersion(doc: TenantDocument): string {
  return `sha256:${createHash('sha256').update(canonicalJson(doc)).digest('hex')}`;
}

export interface DocumentChange {
  /** Dotted path; list members with an identity are named by it (`inventory.services.patient-api.instances.patient-api-1.region`). */
  path: string;
  from?: unknown;
  to?: unknown;
}

/** Lists whose members have a name: compared by name, so reordering them is not a change. */
const KEYED_LISTS: Record<string, string> = {
  'inventory.services': 'service',
  'inventory.services.*.instances': 'instance',
  'escalation.targets': 'name',
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function diffValue(path: string, pattern: string, from: unknown, to: unknown, out: DocumentChange[]): void {
  if (from === to || (from !== undefined && to !== undefined && canonicalJson(from) === canonicalJson(to))) return;
  if (from === undefined) {
    out.push({ path, to });
    return;
  }
  if (to === undefined) {
    out.push({ path, from });
    return;
  }
  const keyField = KEYED_LISTS[pattern];
  if (keyField && Array.isArray(from) && Array.isArray(to)) {
    const byKey = (list: unknown[]): Map<string, unknown> => new Map(list.map((m) => [String(isRecord(m) ? m[keyField] : m), m]));
    const a = byKey(from);
    const b = byKey(to);
    for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      diffValue(join(path, key), join(pattern, '*'), a.get(key), b.get(key), out);
    }
    return;
  }
  if (isRecord(from) && isRecord(to)) {
    for (const key of [...new Set([...Object.keys(from), ...Object.keys(to)])].sort()) {
      diffValue(join(path, key), join(pattern, key), from[key], to[key], out);
    }
    return;
  }
  // Scalars and ordered lists (frameworks, regions, playbook candidates, windows) change as a whole.
  out.push({ path, from, to });
}

/**
 * What changed between two versions of a tenant's document, leaf by leaf; `before` null for a
 * new tenant (then each top-level field is one addition). Empty when the versions are equal.
 */
export function diffDocuments(before: TenantDocument | null, after: TenantDocument): DocumentChange[] {
  const out: DocumentChange[] = [];
  if (before === null) {
    for (const key of Object.keys(after).sort()) {
      const value = (after as Record<string, unknown>)[key];
      if (value !== undefined) out.push({ path: key, to: value });
    }
    return out;
  }
  diffValue('', '', before, after, out);
  return out;
}

/** Generic leaf diff, for the effective profile (`profile.maxAutoActionsPerHour`) and the like. */
export function diffValues(prefix: string, before: unknown, after: unknown): DocumentChange[] {
  const out: DocumentChange[] = [];
  diffValue(prefix, '\0', before, after, out);
  return out;
}
