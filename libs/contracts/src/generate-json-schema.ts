import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildEventsJsonSchema } from './json-schema.js';

/** Writes libs/contracts/schema/autoheal-events.schema.json (checked in; a test fails when it is stale). */
const target = process.argv[2] ?? join(__dirname, '..', 'schema', 'autoheal-events.schema.json');
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, JSON.stringify(buildEventsJsonSchema(), null, 2) + '\n');
console.log(`wrote ${target}`);
