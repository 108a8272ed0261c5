import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { readDocumentsFrom } from '../tenants/legacy-tenants.js';
import { TenantsError } from '../tenants/tenants.errors.js';
import { CliError, CliErrorCode } from './cli.errors.js';

/** Where one document of a batch came from: its file (as the user named it) and its place in that file. */
export interface DocumentSource {
  file: string;
  /** 1-based position in the file. */
  position: number;
  /** Documents in the file. */
  count: number;
}

/** The files readDocumentsFrom reads for `path`, in its order (sorted names, document extensions only). */
function documentFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => ['.json', '.yaml', '.yml'].includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(path, f));
}

/**
 * The batch exactly as the service's own reader yields it for `path` (readDocumentsFrom), plus
 * the file each document came from, so that the service's `documents[i]` can be traced back.
 * The sources are null when they cannot be told for sure (the reader's listing changed).
 */
export function readDocumentsWithSources(path: string): { documents: unknown[]; sources: DocumentSource[] | null } {
  let documents: unknown[];
  try {
    documents = readDocumentsFrom(path);
  } catch (error) {
    if (error instanceof TenantsError) throw new CliError(CliErrorCode.LocalDocuments, error.message);
    throw new CliError(CliErrorCode.LocalDocuments, `cannot read tenant documents at ${path}: ${(error as Error).message}`);
  }
  try {
    const sources = documentFiles(path).flatMap((file) => {
      const count = readDocumentsFrom(file).length;
      return Array.from({ length: count }, (_, i) => ({ file, position: i + 1, count }));
    });
    return { documents, sources: sources.length === documents.length ? sources : null };
  } catch {
    return { documents, sources: null };
  }
}
