import { AdminClient } from './admin-client.js';
import { ApiKeysClient } from './api-keys-client.js';
import { auditorConnectionFrom, connectionFrom, parseCommand, USAGE, type Command } from './cli-arguments.js';
import { CliError, CliErrorCode, exitCodeFor } from './cli.errors.js';
import { formatApiKey, formatApiKeyPage, formatCreatedApiKey, formatApplyResults, formatBacktest, formatBreaker, formatDiff, formatError, formatResume, formatReview, formatTenantList, formatVersions } from './cli-format.js';
import { readDocumentsWithSources, type DocumentSource } from './document-sources.js';
import { runProducers } from './producers.command.js';
import { runAudit } from './audit.command.js';
import { runReport } from './report.command.js';

/** Where the CLI writes (one call per line) and what time it is: injected so that tests run it in-process. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  now(): Date;
}

const DAY_MS = 24 * 60 * 60_000;

/** What a command produced: the service's answer (for --json) and its human rendering. */
interface Output {
  answer: unknown;
  lines: string[];
}

function tenantIdOf(document: unknown): string | undefined {
  return document !== null && typeof document === 'object' && typeof (document as { tenantId?: unknown }).tenantId === 'string' ? (document as { tenantId: string }).tenantId : undefined;
}

/** The one candidate document of a backtest: the only one in `path`, or the one --tenant names. */
function pickCandidate(path: string, tenantId: string | undefined): { document: unknown; tenantId: string; sources: DocumentSource[] | null } {
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
  return { document: documents[index], tenantId: id, sources: sources ? [sources[index]] : null };
}

/** The service names documents by index; an apply or backtest knows the files behind the indexes. */
async function withSources<T>(sources: DocumentSource[] | null, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CliError && error.code === CliErrorCode.InvalidDocuments) throw new CliError(error.code, error.message, { ...error.details, sources });
    throw error;
  }
}

type ApiKeysCommand = Extract<Command, { kind: 'api_keys_create' | 'api_keys_list' | 'api_keys_revoke' | 'api_keys_expire' }>;

function isApiKeysCommand(command: Command): command is ApiKeysCommand {
  return command.kind.startsWith('api_keys_');
}

/** People's API keys: at the auditor, which owns them. */
async function executeApiKeys(command: ApiKeysCommand, client: ApiKeysClient): Promise<Output> {
  switch (command.kind) {
    case 'api_keys_create': {
      const { kind: _kind, ...key } = command;
      const answer = await client.create(key);
      return { answer, lines: formatCreatedApiKey(answer) };
    }
    case 'api_keys_list': {
      const answer = await client.list(command.limit, command.after);
      return { answer, lines: formatApiKeyPage(answer) };
    }
    case 'api_keys_revoke': {
      const answer = await client.revoke(command.id);
      return { answer, lines: [`revoked ${formatApiKey(answer)}`] };
    }
    case 'api_keys_expire': {
      const answer = await client.expire(command.id, command.at);
      return { answer, lines: [`expired ${formatApiKey(answer)}`] };
    }
    default: {
      const unreachable: never = command;
      throw new Error(`unhandled command ${JSON.stringify(unreachable)}`);
    }
  }
}

async function execute(command: Exclude<Command, { kind: 'help' } | ApiKeysCommand>, client: AdminClient, io: CliIo): Promise<Output> {
  switch (command.kind) {
    case 'apply': {
      const { documents, sources } = readDocumentsWithSources(command.path);
      if (documents.length === 0) throw new CliError(CliErrorCode.LocalDocuments, `${command.path} holds no tenant documents (.yaml, .yml or .json)`);
      const answer = await withSources(sources, () => client.applyTenants(documents));
      return { answer, lines: formatApplyResults(answer.results) };
    }
    case 'tenants_list': {
      const answer = await client.listTenants();
      return { answer, lines: formatTenantList(answer.items) };
    }
    case 'tenants_versions': {
      const answer = await client.versions(command.tenantId, command.limit);
      return { answer, lines: formatVersions(command.tenantId, answer) };
    }
    case 'tenants_diff': {
      const answer = await client.diff(command.tenantId, command.from, command.to);
      return { answer, lines: formatDiff(command.tenantId, answer) };
    }
    case 'backtest': {
      const candidate = pickCandidate(command.path, command.tenantId);
      const since = command.days !== undefined ? new Date(io.now().getTime() - command.days * DAY_MS) : undefined;
      const answer = await withSources(candidate.sources, () => client.backtest(candidate.tenantId, candidate.document, since));
      return { answer, lines: formatBacktest(answer, { all: command.all, ...(since ? { since } : {}) }) };
    }
    case 'review': {
      const answer = await client.review(command.verdict, command.remediationId, command.reason);
      return { answer, lines: formatReview(answer) };
    }
    case 'breaker_status': {
      const answer = await client.breaker();
      return { answer, lines: formatBreaker(answer) };
    }
    case 'breaker_resume': {
      const answer = command.tenantId === undefined ? await client.resumeBreaker(command.reason) : await client.resumeTenantBreaker(command.tenantId, command.reason);
      return { answer, lines: formatResume(answer) };
    }
    default: {
      const unreachable: never = command;
      throw new Error(`unhandled command ${JSON.stringify(unreachable)}`);
    }
  }
}

/**
 * The whole CLI: parses `argv`, talks to the admin API, prints, and returns the exit status
 * (0 done, 1 refused or failed, 2 bad arguments or no key). Never exits the process itself.
 */
export async function run(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  // Local files only (the NATS server's users), no admin API.
  if (argv[0] === 'producers') return runProducers(argv.slice(1), env, io);
  // The audit trail's evidence: an export from the auditor, or a bundle checked with no network at all.
  if (argv[0] === 'audit') return runAudit(argv.slice(1), env, io);
  // A signed compliance report from the auditor, or a saved one checked with no network.
  if (argv[0] === 'report') return runReport(argv.slice(1), env, io);
  try {
    const parsed = parseCommand(argv, env);
    if (parsed.command.kind === 'help') {
      io.out(USAGE);
      return 0;
    }
    const command = parsed.command;
    const { answer, lines } = isApiKeysCommand(command)
      ? await executeApiKeys(command, new ApiKeysClient(auditorConnectionFrom(parsed.auditorUrl, env)))
      : await execute(command, new AdminClient(connectionFrom(parsed.url, env)), io);
    if (parsed.json) io.out(JSON.stringify(answer, null, 2));
    else for (const line of lines) io.out(line);
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    for (const line of formatError(error)) io.err(line);
    if (error.code === CliErrorCode.Usage) io.err(`\n${USAGE}`);
    return exitCodeFor(error.code);
  }
}
