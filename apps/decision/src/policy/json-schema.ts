import { z } from 'zod';
import { tenantDocumentSchema } from './tenant-document.js';

export const TENANT_DOCUMENT_SCHEMA_ID = 'https://autoheal.dev/schemas/tenant-document.schema.json';

/**
 * JSON Schema (draft 2020-12) of a tenant document, generated from the zod schema so that editors
 * and CI outside this repo check documents against what `autoheal apply` accepts. The schema
 * covers the shape; the cross-field rules (duplicates, window order, overrides that would loosen a
 * framework) are checked by the decision service on apply.
 */
export function buildTenantDocumentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(tenantDocumentSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: TENANT_DOCUMENT_SCHEMA_ID,
    title: 'autoheal tenant document',
    description:
      'One tenant as code: compliance frameworks and overrides (which may only tighten the presets), inventory, ' +
      'playbooks, escalation targets, maintenance windows and change freezes. Apply with `autoheal apply -f <dir>`. ' +
      'Not expressible here and checked on apply: unique names, windows that end after they start, overrides that loosen a framework.',
  };
}
