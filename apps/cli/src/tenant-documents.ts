import { CliError, CliErrorCode } from './cli.errors.js';
import { readDocumentsWithSources, type DocumentSource } from './documents.js';

function tenantIdOf(document: unknown): string | undefined {
  return document !== null && typeof document === 'object' && typeof (document as { tenantId?: unknown }).tenantId === 'string' ? (document as { tenantId: string }).tenantId : undefined;
}

/** The one candidate document of a backtest: the only one in `path`, or the one --tenant names. */
export function pickCandidate(path: string, tenantId: string | undefined): { document: unknown; tenantId: string; sources: DocumentSource[] } {
  const { documents, sources } = readDocumentsWithSources(path);
  const ids = documents.map(tenantIdOf);
  const index = tenantId === undefined ? (documents.length === 1 ? 0 : -1) : ids.indexOf(tenantId);
  if (index < 0) {
    const found = ids.map((id) => id ?? '(no tenantId)').join(', ') || 'none';
    const message =
      tenantId === undefined
        ? `${path} holds ${documents.length} documents (${found}); name the candidate with --tenant`
        : `${path} holds no document for tenant ${tenantId} (found: ${found})`;
    throw new CliError(CliErrorCode.Usage, message);
  }
  const id = ids[index];
  if (id === undefined) throw new CliError(CliErrorCode.LocalDocuments, `${path}: the candidate document has no tenantId, so the tenant to replay is unknown`);
  return { document: documents[index], tenantId: id, sources: [sources[index]] };
}

/** The service names documents by index; an apply or backtest knows the files behind the indexes. */
export async function withSources<T>(sources: DocumentSource[] | null, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CliError && error.code === CliErrorCode.InvalidDocuments) throw new CliError(error.code, error.message, { ...error.details, sources });
    throw error;
  }
}
