import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildTenantDocumentJsonSchema } from './json-schema.js';

/** Writes apps/decision/schema/tenant-document.schema.json (checked in; a unit test fails when it is stale). */
const target = process.argv[2] ?? join(__dirname, '..', '..', 'schema', 'tenant-document.schema.json');
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, JSON.stringify(buildTenantDocumentJsonSchema(), null, 2) + '\n');
console.log(`wrote ${target}`);
