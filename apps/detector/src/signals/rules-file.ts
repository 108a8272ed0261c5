import { readFileSync } from 'node:fs';
import { rulesFileSchema } from '../rules/rule-config.js';
import type { RulesFile } from '../rules/rule.types.js';

/**
 * Reads and validates the optional rules file (per-tenant thresholds, maintenance windows) once
 * at boot. No path: built-in defaults, no maintenance. A bad file stops the detector with every
 * problem listed, rather than failing on the first sample of the service it breaks.
 */
export function loadRulesFile(path: string | undefined, read: (p: string) => string = (p) => readFileSync(p, 'utf8')): RulesFile | undefined {
  if (path === undefined || path === '') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(read(path));
  } catch (error) {
    throw new Error(`invalid rules file ${path}: ${(error as Error).message}`);
  }
  const result = rulesFileSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid rules file ${path}:\n${lines.join('\n')}`);
  }
  return result.data;
}
