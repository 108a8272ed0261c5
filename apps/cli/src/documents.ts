import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CliError, CliErrorCode } from './cli.errors.js';

/** Where one document of a batch came from: its file (as the user named it) and its place in that file. */
export interface DocumentSource {
  file: string;
  /** 1-based position in the file. */
  position: number;
  /** Documents in the file. */
  count: number;
}

const DOCUMENT_EXTENSIONS = ['.json', '.yaml', '.yml'];

function localError(message: string): CliError {
  return new CliError(CliErrorCode.LocalDocuments, message);
}

/** The files of `path`: itself, or a directory's document files in name order. */
function documentFiles(path: string): string[] {
  let directory: boolean;
  try {
    directory = statSync(path).isDirectory();
  } catch (error) {
    throw localError(`cannot read tenant documents at ${path}: ${(error as Error).message}`);
  }
  if (!directory) return [path];
  return readdirSync(path)
    .filter((f) => DOCUMENT_EXTENSIONS.includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(path, f));
}

/**
 * The raw documents of one file, not validated (the service validates): JSON holds one document
 * or an array of them; YAML may hold several separated by `---` (an empty one is skipped).
 */
export function parseDocuments(file: string, text: string): unknown[] {
  if (file.toLowerCase().endsWith('.json')) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw localError(`${file} cannot be parsed: not JSON: ${(error as Error).message}`);
    }
    return Array.isArray(raw) ? raw : [raw];
  }
  const documents: unknown[] = [];
  for (const doc of parseAllDocuments(text, { prettyErrors: true })) {
    if (doc.errors.length > 0) throw localError(`${file} cannot be parsed: not YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) documents.push(value);
  }
  return documents;
}

/**
 * The batch for `path` (a file, or a directory's .yaml, .yml and .json files in name order),
 * with the file each document came from, so that the service's `documents[i]` can be traced back.
 */
export function readDocumentsWithSources(path: string): { documents: unknown[]; sources: DocumentSource[] } {
  const documents: unknown[] = [];
  const sources: DocumentSource[] = [];
  for (const file of documentFiles(path)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw localError(`cannot read ${file}: ${(error as Error).message}`);
    }
    const parsed = parseDocuments(file, text);
    parsed.forEach((document, i) => {
      documents.push(document);
      sources.push({ file, position: i + 1, count: parsed.length });
    });
  }
  return { documents, sources };
}
