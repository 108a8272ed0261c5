import type { MigrationInterface, QueryRunner } from 'typeorm';

/** What replaces a literal credential found in a stored document: a reference nobody configured. */
const REMOVED_REF = 'LITERAL_SECRET_REMOVED';
const REMOVED_VALUE = '[removed]';

/**
 * Earlier documents held PagerDuty routing keys as literals. Documents now only name secrets
 * (`secretRef`); this removes the literals from everything the decision service stores: current
 * documents and every stored version (an escalation target with a literal gets `secretRef:
 * LITERAL_SECRET_REMOVED`, so its deliveries fail visibly until an operator applies a document
 * that names the real secret), the recorded changes, and queued escalation payloads. Version ids
 * stay those the documents were applied under. The auditor's trail is append-only: what it
 * recorded before this migration stays there (see the decision README).
 */
export class DecisionSecretRefs1764200000000 implements MigrationInterface {
  name = 'DecisionSecretRefs1764200000000';

  async up(q: QueryRunner): Promise<void> {
    const tenants = (await q.query(`SELECT tenant_id, document FROM decision.tenants WHERE document IS NOT NULL`)) as { tenant_id: string; document: unknown }[];
    for (const row of tenants) {
      const document = scrubDocument(row.document);
      if (document !== row.document) await q.query(`UPDATE decision.tenants SET document = $2::jsonb WHERE tenant_id = $1`, [row.tenant_id, JSON.stringify(document)]);
    }
    const versions = (await q.query(`SELECT seq, document, changes FROM decision.tenant_versions`)) as { seq: string; document: unknown; changes: unknown }[];
    for (const row of versions) {
      const document = scrubDocument(row.document);
      const changes = scrubChanges(row.changes);
      if (document !== row.document || changes !== row.changes) {
        await q.query(`UPDATE decision.tenant_versions SET document = $2::jsonb, changes = $3::jsonb WHERE seq = $1`, [row.seq, JSON.stringify(document), JSON.stringify(changes)]);
      }
    }
    await q.query(`UPDATE decision.escalation_deliveries SET secret_ref = $1 WHERE kind = 'pagerduty' AND secret_ref IS NULL`, [REMOVED_REF]);
    await q.query(`UPDATE decision.escalation_deliveries SET payload = payload - 'routing_key' WHERE payload ? 'routing_key'`);
    await q.query(`ALTER TABLE decision.escalation_deliveries DROP COLUMN routing_key`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The removed values are gone for good; only the column comes back.
    await q.query(`ALTER TABLE decision.escalation_deliveries ADD COLUMN routing_key text`);
  }
}

/** The same value when nothing was removed, so unchanged rows are not rewritten. */
export function scrubDocument(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(scrubDocument);
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(record)) {
    if (key === 'routingKey') {
      changed = true;
      out.secretRef ??= REMOVED_REF;
      continue;
    }
    const scrubbed = scrubDocument(child);
    if (scrubbed !== child) changed = true;
    out[key] = scrubbed;
  }
  return changed ? out : value;
}

export function scrubChanges(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const items = value.map((change: unknown) => {
    if (change === null || typeof change !== 'object') return change;
    const c = change as { path?: unknown; from?: unknown; to?: unknown };
    if (typeof c.path === 'string' && c.path.endsWith('.routingKey')) {
      return { ...c, ...('from' in c ? { from: REMOVED_VALUE } : {}), ...('to' in c ? { to: REMOVED_VALUE } : {}) };
    }
    const from = scrubDocument(c.from);
    const to = scrubDocument(c.to);
    return from === c.from && to === c.to ? change : { ...c, ...('from' in c ? { from } : {}), ...('to' in c ? { to } : {}) };
  });
  return items.some((item, i) => item !== value[i]) ? items : value;
}
