import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { effectiveProfile, formatOf, parseDocumentText, type Framework } from '../planning/policy-port.js';
import type { TenantProfile } from './tenant-profile.js';
import { TenantsError, TenantsErrorCode } from './tenants.errors.js';

/** `PCI DSS`, `pci-dss`, `PCI_DSS` → `PCI_DSS`: the tenants file predates the framework enum. */
function normaliseFramework(name: string): string {
  return name.trim().toUpperCase().replace(/[\s-]+/g, '_');
}

/**
 * The demo tenants file (one profile per tenant) as tenant documents: its thresholds become
 * overrides of the framework presets, its instances a local dedicated pool. Placement is unknown
 * in that file, so every instance is declared in region `local`.
 */
export function documentsFromTenantsFile(profiles: TenantProfile[]): Record<string, unknown>[] {
  return profiles.map((p) => {
    const frameworks = p.frameworks.map(normaliseFramework);
    // Overrides may only tighten the presets: the file's cap is kept where it is stricter, and
    // where it is looser the frameworks' value binds anyway (the strictest value always wins).
    const preset = effectiveProfile(frameworks as Framework[]);
    const overrides: Record<string, unknown> = { autoActions: p.autoActions };
    if (p.maxAutoActionsPerHour <= preset.maxAutoActionsPerHour) overrides.maxAutoActionsPerHour = p.maxAutoActionsPerHour;
    return {
      apiVersion: 'autoheal/v1',
      tenantId: p.tenantId,
      ...(p.displayName ? { displayName: p.displayName } : {}),
      frameworks,
      overrides,
      inventory: {
        services: p.services
          .filter((s) => s.instances.length > 0)
          .map((s) => ({
            service: s.service,
            // Isolation is unknown too; dedicated is the assumption that never loosens a profile.
            instances: s.instances.map((instance) => ({ instance, region: 'local', zone: 'local-a', pool: 'dedicated' })),
          })),
      },
    };
  });
}

/**
 * Reads tenant documents from a file or a directory of `.json`, `.yaml` and `.yml` files; a file
 * may hold several documents (a JSON array, or YAML documents separated by `---`). The order is
 * stable (sorted file names) so that error indexes mean the same thing on every run.
 */
export function readDocumentsFrom(path: string): unknown[] {
  const absolute = resolve(path);
  let files: string[];
  try {
    files = statSync(absolute).isDirectory()
      ? readdirSync(absolute)
          .filter((f) => DOCUMENT_EXTENSIONS.includes(extname(f).toLowerCase()))
          .sort()
          .map((f) => join(absolute, f))
      : [absolute];
  } catch (error) {
    throw new TenantsError(TenantsErrorCode.FileUnreadable, `cannot read tenant documents at ${absolute}: ${(error as Error).message}`);
  }
  const documents: unknown[] = [];
  for (const file of files) {
    const parsed = parseDocumentText(readFileSync(file, 'utf8'), formatOf(file), documents.length);
    if (!parsed.ok) {
      throw new TenantsError(
        TenantsErrorCode.InvalidJson,
        `${file} cannot be parsed`,
        parsed.errors.map((e) => `documents[${e.document}]: ${e.message}`),
      );
    }
    documents.push(...parsed.documents);
  }
  return documents;
}

const DOCUMENT_EXTENSIONS = ['.json', '.yaml', '.yml'];
