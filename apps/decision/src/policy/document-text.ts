import { parseAllDocuments } from 'yaml';
import type { DocumentError } from './tenant-document.js';

export type DocumentFormat = 'yaml' | 'json';

export type ParsedText = { ok: true; documents: unknown[] } | { ok: false; errors: DocumentError[] };

/** `json` for `.json` files, `yaml` for everything else (`.yaml`, `.yml`). */
export function formatOf(fileName: string): DocumentFormat {
  return fileName.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
}

/**
 * The raw documents in one file, not yet validated: YAML may hold several documents separated
 * by `---`; JSON holds one document or an array of documents. `firstIndex` numbers the documents
 * across several files so that errors point at the right one.
 */
export function parseDocumentText(text: string, format: DocumentFormat, firstIndex = 0): ParsedText {
  if (format === 'json') {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      return { ok: false, errors: [{ document: firstIndex, path: '(root)', message: `not JSON: ${(error as Error).message}` }] };
    }
    return { ok: true, documents: Array.isArray(raw) ? raw : [raw] };
  }
  const parsed = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(parsed) ? parsed : [];
  const errors: DocumentError[] = [];
  const documents: unknown[] = [];
  list.forEach((doc, i) => {
    for (const e of doc.errors) errors.push({ document: firstIndex + i, path: '(root)', message: `not YAML: ${e.message}` });
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    // An empty document (a trailing `---`) is not a tenant.
    if (value !== null && value !== undefined) documents.push(value);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, documents };
}
