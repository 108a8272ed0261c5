import { Command, CommanderError } from 'commander';
import { CHAOS_ACTIONS, type ChaosAction } from '@autoheal/contracts';
import { REPORT_RENDERINGS, type ReportRendering } from '@autoheal/evidence';
import * as args from './arguments.js';
import { exportBundle, formatBundleCheck, verifyBundleDir } from './audit-bundle.js';
import { AuditorClient } from './auditor-client.js';
import { CliError, CliErrorCode, EXIT, exitCodeFor, type ExitStatus } from './cli.errors.js';
import { auditorConnectionFrom, connectionFrom, DEFAULT_AUDITOR_URL, DEFAULT_DECISION_URL, type Env } from './connection.js';
import { DecisionClient } from './decision-client.js';
import { readDocumentsWithSources } from './documents.js';
import {
  formatApiKey,
  formatApiKeyPage,
  formatApplyResults,
  formatAuditPage,
  formatAuditVerification,
  formatBacktest,
  formatBreaker,
  formatCreatedApiKey,
  formatDiff,
  formatError,
  formatIncidentPage,
  formatPendingApprovals,
  formatRemediationPage,
  formatResume,
  formatReview,
  formatTenantList,
  formatTimeline,
  formatVersions,
} from './format.js';
import { pickCandidate, withSources } from './tenant-documents.js';
import { fetchComplianceReport, verifySavedReport, writeSavedReport } from './report.command.js';

/** Where the CLI writes (one call per line) and what time it is: injected so that tests run it in-process. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  now(): Date;
}

const DAY_MS = 24 * 60 * 60_000;

const EXIT_HELP = `Exit status:
  0  done (a check found everything intact)
  1  refused or failed: the service said no, a check found a break, the agent refused
  2  usage: bad arguments or no credential; nothing was sent
  3  unreachable: no answer from the service (or, for demo, the NATS server or the agent)`;

const CREDENTIAL_HELP = `Credential: AUTOHEAL_ADMIN_KEY (your API key or an OIDC token), else the bootstrap key
(DECISION_ADMIN_API_KEY for the decision service, AUDITOR_OPS_API_KEY for the auditor). What you
do is recorded under the credential's person, never a name given on the command line.`;

/** What an action produced: the service's answer (for --json), its human rendering, and the exit status. */
interface Output {
  answer: unknown;
  lines: string[];
  status?: ExitStatus;
}

interface GlobalOptions {
  json?: boolean;
  url?: string;
  auditorUrl?: string;
}

/**
 * The whole CLI: parses `argv` with commander, talks to the services, prints, and returns the
 * exit status (see EXIT_HELP). Never exits the process itself.
 */
export async function run(argv: readonly string[], env: Env, io: CliIo): Promise<number> {
  let status: ExitStatus = EXIT.ok;
  const program = buildProgram(env, io, (s) => (status = s));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0; everything else commander refuses is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (!(error instanceof CliError)) throw error;
    for (const line of formatError(error)) io.err(line);
    if (error.code === CliErrorCode.Usage) io.err('(add --help for usage)');
    return exitCodeFor(error.code);
  }
}

/** The command tree. Each action validates its arguments, calls one client or local function, and hands back an Output. */
export function buildProgram(env: Env, io: CliIo, setStatus: (status: ExitStatus) => void): Command {
  const program = new Command('autoheal');
  // Set before any subcommand is added: subcommands inherit these.
  program
    .description('Operate autoheal: tenants, approvals, the breaker, API keys, the audit trail, incidents, producers and the demo.')
    .option('--json', 'print the service’s answer as JSON instead of a table')
    .option('--url <url>', `the decision service (else AUTOHEAL_DECISION_URL, else ${DEFAULT_DECISION_URL})`)
    .option('--auditor-url <url>', `the auditor (else AUTOHEAL_AUDITOR_URL, else ${DEFAULT_AUDITOR_URL})`)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `\n${CREDENTIAL_HELP}\n\n${EXIT_HELP}`);

  /** Wraps an action: resolves the global options, prints its Output as JSON or lines. */
  function act<A extends unknown[]>(work: (globals: GlobalOptions, ...a: A) => Promise<Output> | Output) {
    return async (...a: unknown[]): Promise<void> => {
      const command = a[a.length - 1] as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      const output = await work(globals, ...(a.slice(0, -1) as A));
      if (globals.json) io.out(JSON.stringify(output.answer, null, 2));
      else for (const line of output.lines) io.out(line);
      setStatus(output.status ?? EXIT.ok);
    };
  }
  const decision = (g: GlobalOptions) => new DecisionClient(connectionFrom(g.url, env));
  const auditor = (g: GlobalOptions) => new AuditorClient(auditorConnectionFrom(g.auditorUrl, env));
  const reason = (value: string) => args.text('--reason', value, 1000);

  // --- tenants (the decision service's admin API) -------------------------------------------
  const tenants = program.command('tenants').description('tenant documents: apply, list, show, versions, diff, backtest (decision service)');
  tenants
    .command('list')
    .description('every tenant in your scope with its current version')
    .action(
      act(async (g) => {
        const answer = await decision(g).listTenants();
        return { answer, lines: formatTenantList(answer.items) };
      }),
    );
  tenants
    .command('show <tenant>')
    .description("a tenant's current document as stored (JSON)")
    .action(
      act(async (g, tenant: string) => {
        const answer = await decision(g).show(args.tenantId(tenant));
        return { answer, lines: JSON.stringify(answer, null, 2).split('\n') };
      }),
    );
  tenants
    .command('apply')
    .description('apply tenant documents (.yaml, .yml, .json), all or nothing')
    .requiredOption('-f, --file <file|dir>', 'a document file, or a directory of them')
    .action(
      act(async (g, o: { file: string }) => {
        const { documents, sources } = readDocumentsWithSources(args.text('--file', o.file, 4096));
        if (documents.length === 0) throw new CliError(CliErrorCode.LocalDocuments, `${o.file} holds no tenant documents (.yaml, .yml or .json)`);
        const answer = await withSources(sources, () => decision(g).applyTenants(documents));
        return { answer, lines: formatApplyResults(answer.results) };
      }),
    );
  tenants
    .command('versions <tenant>')
    .description("a tenant's versions, newest first")
    .option('--limit <n>', 'at most n (1-100)', '20')
    .action(
      act(async (g, tenant: string, o: { limit: string }) => {
        const id = args.tenantId(tenant);
        const answer = await decision(g).versions(id, args.integer('--limit', o.limit, 1, 100) ?? 20);
        return { answer, lines: formatVersions(id, answer) };
      }),
    );
  tenants
    .command('diff <tenant>')
    .description('what changed between two versions')
    .requiredOption('--from <version>', 'the older version')
    .option('--to <version>', 'the newer version (default: the current one)')
    .action(
      act(async (g, tenant: string, o: { from: string; to?: string }) => {
        const id = args.tenantId(tenant);
        const answer = await decision(g).diff(id, args.text('--from', o.from), o.to === undefined ? undefined : args.text('--to', o.to));
        return { answer, lines: formatDiff(id, answer) };
      }),
    );
  tenants
    .command('backtest')
    .description("replay the tenant's past decisions against a candidate document; changes nothing")
    .requiredOption('-f, --file <file|dir>', 'the candidate document (or a directory holding it)')
    .option('--tenant <tenant>', 'which document, when --file holds several')
    .option('--days <n>', 'only decisions of the last n days (1-3650)')
    .option('--all', 'also list the decisions that would not change')
    .action(
      act(async (g, o: { file: string; tenant?: string; days?: string; all?: boolean }) => {
        const days = args.integer('--days', o.days, 1, 3650);
        const candidate = pickCandidate(args.text('--file', o.file, 4096), o.tenant === undefined ? undefined : args.tenantId(o.tenant));
        const since = days !== undefined ? new Date(io.now().getTime() - days * DAY_MS) : undefined;
        const answer = await withSources(candidate.sources, () => decision(g).backtest(candidate.tenantId, candidate.document, since));
        return { answer, lines: formatBacktest(answer, { all: o.all ?? false, ...(since ? { since } : {}) }) };
      }),
    );

  // --- approvals --------------------------------------------------------------------------
  const approvals = program.command('approvals').description('remediations that await a human: list (auditor), approve, reject (decision service)');
  approvals
    .command('list <tenant>')
    .description("the tenant's remediations awaiting approval, newest first")
    .option('--limit <n>', 'per page (1-500)')
    .option('--cursor <cursor>', 'the next page, as the previous one printed')
    .action(
      act(async (g, tenant: string, o: { limit?: string; cursor?: string }) => {
        const id = args.tenantId(tenant);
        const answer = await auditor(g).pendingApprovals(id, { limit: args.integer('--limit', o.limit, 1, 500), cursor: o.cursor });
        return { answer, lines: formatPendingApprovals(id, answer) };
      }),
    );
  for (const verdict of ['approve', 'reject'] as const) {
    approvals
      .command(`${verdict} <remediationId>`)
      .description(`${verdict} a remediation that awaits approval (recorded under your credential)`)
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act(async (g, remediationId: string, o: { reason: string }) => {
          const answer = await decision(g).review(verdict, args.uuid('a remediation id', remediationId), reason(o.reason));
          return { answer, lines: formatReview(answer) };
        }),
      );
  }

  // --- breaker ----------------------------------------------------------------------------
  const breaker = program.command('breaker').description('the circuit breakers that stop automatic actions (decision service)');
  breaker
    .command('status')
    .description('the global breaker and the tenant breakers in your scope')
    .action(
      act(async (g) => {
        const answer = await decision(g).breaker();
        return { answer, lines: formatBreaker(answer) };
      }),
    );
  breaker
    .command('resume')
    .description("close the global breaker (or, with --tenant, that tenant's): automatic actions resume")
    .requiredOption('--reason <text>', 'why it is safe, for the audit trail')
    .option('--tenant <tenant>', "resume only this tenant's breaker")
    .action(
      act(async (g, o: { reason: string; tenant?: string }) => {
        const client = decision(g);
        const answer = o.tenant === undefined ? await client.resumeBreaker(reason(o.reason)) : await client.resumeTenantBreaker(args.tenantId(o.tenant), reason(o.reason));
        return { answer, lines: formatResume(answer) };
      }),
    );

  // --- api-keys (the auditor owns them) ---------------------------------------------------
  const apiKeys = program.command('api-keys').description("people's API keys, through the auditor's API (admin over every tenant)");
  apiKeys
    .command('create')
    .description('a personal API key; the key is printed once')
    .requiredOption('--subject <person>', 'whom the key is for')
    .requiredOption('--roles <r,…>', 'viewer, operator, approver, admin')
    .requiredOption('--tenants <scope>', "'*' or tenant ids separated by commas")
    .option('--expires <time>', 'RFC 3339, e.g. 2027-06-30T00:00:00Z')
    .option('--label <text>', 'a note shown in the list')
    .action(
      act(async (g, o: { subject: string; roles: string; tenants: string; expires?: string; label?: string }) => {
        const expiresAt = args.instant('--expires', o.expires);
        const answer = await auditor(g).createApiKey({
          subject: args.text('--subject', o.subject),
          roles: args.roles(o.roles),
          tenantScope: args.tenantScope(o.tenants),
          ...(expiresAt ? { expiresAt } : {}),
          ...(o.label !== undefined ? { label: args.text('--label', o.label) } : {}),
        });
        return { answer, lines: formatCreatedApiKey(answer) };
      }),
    );
  apiKeys
    .command('list')
    .description('every key (never a secret)')
    .option('--limit <n>', 'per page (1-500)', '100')
    .option('--after <keyId>', 'the page after this key')
    .action(
      act(async (g, o: { limit: string; after?: string }) => {
        const answer = await auditor(g).listApiKeys(args.integer('--limit', o.limit, 1, 500) ?? 100, o.after === undefined ? undefined : args.keyId(o.after, '--after'));
        return { answer, lines: formatApiKeyPage(answer) };
      }),
    );
  apiKeys
    .command('revoke <keyId>')
    .description('the key stops working at once')
    .action(
      act(async (g, id: string) => {
        const answer = await auditor(g).revokeApiKey(args.keyId(id));
        return { answer, lines: [`revoked ${formatApiKey(answer)}`] };
      }),
    );
  apiKeys
    .command('expire <keyId>')
    .description('the key stops working at --at (default: now)')
    .option('--at <time>', 'RFC 3339')
    .action(
      act(async (g, id: string, o: { at?: string }) => {
        const answer = await auditor(g).expireApiKey(args.keyId(id), args.instant('--at', o.at));
        return { answer, lines: [`expired ${formatApiKey(answer)}`] };
      }),
    );

  // --- audit ------------------------------------------------------------------------------
  const audit = program.command('audit').description("a tenant's audit trail: list, verify, export a bundle, verify a bundle offline");
  audit
    .command('list <tenant>')
    .description("a page of the tenant's audit trail, oldest first (reading it is itself recorded)")
    .option('--limit <n>', 'rows per page (1-500)')
    .option('--cursor <cursor>', 'the next page, as the previous one printed')
    .option('--type <eventType>', 'only rows of this event type')
    .option('--from <time>', 'occurred at or after (RFC 3339)')
    .option('--to <time>', 'occurred before (RFC 3339)')
    .option('--correlation-id <incidentId>', "only this incident's rows")
    .action(
      act(async (g, tenant: string, o: { limit?: string; cursor?: string; type?: string; from?: string; to?: string; correlationId?: string }) => {
        const id = args.tenantId(tenant);
        const answer = await auditor(g).auditPage(id, {
          limit: args.integer('--limit', o.limit, 1, 500),
          cursor: o.cursor,
          type: o.type,
          from: args.instant('--from', o.from),
          to: args.instant('--to', o.to),
          correlationId: o.correlationId,
        });
        return { answer, lines: formatAuditPage(id, answer) };
      }),
    );
  audit
    .command('verify <tenant>')
    .description("the auditor recomputes the tenant's hash chain and reports the first break (exit 1 on a break)")
    .option('--full', 'from the first row, not from the last verified point')
    .action(
      act(async (g, tenant: string, o: { full?: boolean }) => {
        const answer = await auditor(g).verifyAudit(args.tenantId(tenant), o.full ?? false);
        return { answer, lines: formatAuditVerification(answer), status: answer.ok ? EXIT.ok : EXIT.failed };
      }),
    );
  audit
    .command('export <tenant>')
    .description("a bundle of the tenant's rows recorded in [from, to) (default: the whole chain), verifiable offline")
    .requiredOption('--out <dir>', 'a new or empty directory: rows.jsonl, seals.jsonl, checkpoints.jsonl, keys.json, manifest.json')
    .option('--from <time>', 'RFC 3339')
    .option('--to <time>', 'RFC 3339')
    .action(
      act(async (g, tenant: string, o: { out: string; from?: string; to?: string }) => {
        const answer = await exportBundle(auditor(g), args.tenantId(tenant), args.text('--out', o.out, 4096), { from: args.instant('--from', o.from), to: args.instant('--to', o.to) });
        return { answer, lines: [`wrote ${answer.dir}: tenant ${answer.tenantId}, rows ${answer.fromSeq ?? '?'}..${answer.toSeq ?? '?'}`] };
      }),
    );
  audit
    .command('verify-bundle <dir>')
    .description('check a bundle with no database and no network: files against the signed manifest, the hash chain, seals and checkpoints (exit 1 when not intact)')
    .option(
      '--trusted-keys <file>',
      "the auditor's keys as you know them from elsewhere (GET /v1/audit/keys saved earlier, or a trust file); without it the bundle's own keys are used, which shows it is consistent, not who made it",
    )
    .option(
      '--tombstone <file>',
      'for an archive of rows that retention dropped: the signed tombstone that replaced them (<partition>/<tenant>.tombstone.json beside the archive); the archive must be the one it names and run exactly between its hashes',
    )
    .action(
      act((_g, dir: string, o: { trustedKeys?: string; tombstone?: string }) => {
        const answer = verifyBundleDir(dir, o.trustedKeys, o.tombstone);
        return { answer, lines: formatBundleCheck(dir, answer), status: answer.ok ? EXIT.ok : EXIT.failed };
      }),
    );

  // --- compliance reports (the auditor) ------------------------------------------------------
  const report = program.command('report').description("a tenant's signed compliance report (auditor), and the offline check of a saved one");
  report
    .command('get <tenant>')
    .description('the compliance report for [from, to), signed by the auditor: on stdout, or with --out in <file> and its detached signature in <file>.sig.json')
    .requiredOption('--from <time>', 'RFC 3339')
    .requiredOption('--to <time>', 'RFC 3339')
    .option('--format <format>', `one of ${REPORT_RENDERINGS.join(', ')}`, 'json')
    .option('--out <file>', 'write the report here and its signature beside it')
    .action(
      act(async (g, tenant: string, o: { from: string; to: string; format: string; out?: string }) => {
        const tenantId = args.tenantId(tenant);
        const format = o.format as ReportRendering;
        if (!REPORT_RENDERINGS.includes(format)) throw new CliError(CliErrorCode.Usage, `--format must be one of ${REPORT_RENDERINGS.join(', ')}`);
        const from = args.instant('--from', o.from) as string;
        const to = args.instant('--to', o.to) as string;
        if (from >= to) throw new CliError(CliErrorCode.Usage, '--from must be before --to');
        const fetched = await fetchComplianceReport(auditorConnectionFrom(g.auditorUrl, env), { tenantId, from, to, format });
        if (o.out === undefined) return { answer: fetched.signature, lines: [fetched.body] };
        const signatureFile = writeSavedReport(o.out, fetched);
        return { answer: { file: o.out, signatureFile, signature: fetched.signature }, lines: [`wrote ${o.out} (${format} report of tenant ${tenantId}, ${from} to ${to}) and its signature ${signatureFile} (key ${fetched.signature.keyId})`] };
      }),
    );
  report
    .command('verify <file>')
    .description('check a saved report against its signature with no network (exit 1 when it does not hold)')
    .requiredOption('--trusted-keys <file>', "the auditor's keys as you know them from elsewhere (GET /v1/audit/keys saved earlier, or a trust file)")
    .option('--signature <file>', 'the detached signature (default: <file>.sig.json)')
    .action(
      act((_g, file: string, o: { trustedKeys: string; signature?: string }) => {
        const answer = verifySavedReport(file, o.signature ?? `${file}.sig.json`, o.trustedKeys);
        return { answer, lines: [answer.line], status: answer.ok ? EXIT.ok : EXIT.failed };
      }),
    );

  // --- incidents and remediations (the auditor's views of the trail) ----------------------
  const incidents = program.command('incidents').description("a tenant's incidents and their timelines (auditor)");
  incidents
    .command('list <tenant>')
    .description("the tenant's incidents, newest first")
    .option('--status <status>', 'open or resolved')
    .option('--kind <kind>', 'e.g. crashed, heartbeat_missed, error_rate')
    .option('--service <service>')
    .option('--instance <instance>', 'an instance, or * for service-level incidents')
    .option('--from <time>', 'opened at or after (RFC 3339)')
    .option('--to <time>', 'opened before (RFC 3339)')
    .option('--limit <n>', 'per page (1-500)')
    .option('--cursor <cursor>', 'the next page, as the previous one printed')
    .action(
      act(async (g, tenant: string, o: { status?: string; kind?: string; service?: string; instance?: string; from?: string; to?: string; limit?: string; cursor?: string }) => {
        const id = args.tenantId(tenant);
        const answer = await auditor(g).incidents(id, { ...o, from: args.instant('--from', o.from), to: args.instant('--to', o.to), limit: args.integer('--limit', o.limit, 1, 500) });
        return { answer, lines: formatIncidentPage(id, answer) };
      }),
    );
  incidents
    .command('show <tenant> <incidentId>')
    .description('every recorded event of the incident, from its first signal to verification, with the time between them')
    .action(
      act(async (g, tenant: string, incidentId: string) => {
        const answer = await auditor(g).timeline(args.tenantId(tenant), args.uuid('an incident id', incidentId));
        return { answer, lines: formatTimeline(answer) };
      }),
    );
  program
    .command('remediations')
    .description("a tenant's remediations (auditor)")
    .command('list <tenant>')
    .description("the tenant's remediations, newest first, each with its latest status")
    .option('--status <status>')
    .option('--action <action>', 'e.g. restart, failover')
    .option('--service <service>')
    .option('--from <time>', 'started at or after (RFC 3339)')
    .option('--to <time>', 'started before (RFC 3339)')
    .option('--limit <n>', 'per page (1-500)')
    .option('--cursor <cursor>', 'the next page, as the previous one printed')
    .action(
      act(async (g, tenant: string, o: { status?: string; action?: string; service?: string; from?: string; to?: string; limit?: string; cursor?: string }) => {
        const id = args.tenantId(tenant);
        const answer = await auditor(g).remediations(id, { ...o, from: args.instant('--from', o.from), to: args.instant('--to', o.to), limit: args.integer('--limit', o.limit, 1, 500) });
        return { answer, lines: formatRemediationPage(id, answer) };
      }),
    );

  // --- producers (local files of the NATS server) -----------------------------------------
  program
    .command('producers')
    .description("tenant producers' NATS credentials (local files; no service is called)")
    .command('create <tenant>')
    .description(
      "a new NKey pair whose seed is written to --out (mode 0600), and a user allowed to publish health.<tenant>.> and nothing else, added to <nats-dir>/identities.json and users.conf; a producer of that tenant made before is replaced. Then: nats-server --signal reload[=<pid>]",
    )
    .option('--out <seed file>', 'default <nats-dir>/seeds/producer-<tenant>.nk')
    .option('--nats-dir <dir>', "the server's generated files (else AUTOHEAL_NATS_DIR, else .autoheal/nats)")
    .action(
      act(async (_g, tenant: string, o: { out?: string; natsDir?: string }) => {
        // Loaded on use: the messaging library is large, and no other command needs it.
        const { createProducer, formatProducerCreated, natsDirFrom } = await import('./producers.js');
        const answer = createProducer({ tenantId: args.tenantId(tenant), natsDir: natsDirFrom(o.natsDir, env), ...(o.out !== undefined ? { out: o.out } : {}) });
        return { answer, lines: formatProducerCreated(answer) };
      }),
    );

  // --- demo (the demo fleet's chaos, through the host agent over NATS) ---------------------
  const demo = program
    .command('demo')
    .description("break the demo's API servers on purpose, through the agent that runs them (npm start's demo fleet)")
    .addHelpText(
      'after',
      `
A restart (autoheal's) clears kill, hang, errors, slow and leak: the new process starts healthy.
NATS_URL selects the server, NATS_NKEY_SEED_FILE and NATS_TLS_CA_FILE the chaos identity's seed and
the server's CA. Without NATS_URL: the server npm start runs (tls://127.0.0.1:$AUTOHEAL_NATS_PORT,
default 4322, with .autoheal/nats/seeds/chaos.nk and .autoheal/nats/ca.pem).`,
    );
  demo
    .command('status')
    .description('every instance the agent runs')
    .action(
      act(async () => {
        const { chaosStatus, formatChaosStatus, natsTargetFrom } = await import('./demo-chaos.js');
        const answer = await chaosStatus(natsTargetFrom(env));
        return { answer, lines: formatChaosStatus(answer) };
      }),
    );
  const CHAOS_HELP: Record<ChaosAction, string> = {
    kill: 'SIGKILL the instance; it stays down until autoheal restarts it -> crashed',
    hang: 'SIGSTOP it; it keeps its port, stops answering and heartbeating -> heartbeat_missed',
    errors: 'it answers most of its requests with 500 -> error_rate',
    slow: 'it answers every request late -> anomaly (latency)',
    leak: 'it retains memory every second, up to its limit -> predicted (memory)',
    resume: 'SIGCONT a hung instance, and stop errors, slow or leak',
    release: 'restart it on another release of its service (fleet file); a release whose env sets DEMO_FAULT=errors is a bad deploy: a restart keeps it, a rollback clears it -> error_rate',
  };
  for (const action of CHAOS_ACTIONS) {
    const sub = demo.command(`${action} <tenant> <service> <instance>${action === 'release' ? ' <version>' : ''}`).description(CHAOS_HELP[action]);
    sub.action(
      act(async (_g, tenant: string, service: string, instance: string, release?: unknown) => {
        const { chaos, formatChaosReply, natsTargetFrom } = await import('./demo-chaos.js');
        const request = { action, tenantId: tenant, service, instance, ...(action === 'release' ? { release: release as string } : {}) };
        const answer = await chaos(natsTargetFrom(env), request);
        return { answer, lines: formatChaosReply(request, answer), status: answer.ok ? EXIT.ok : EXIT.failed };
      }),
    );
  }

  return program;
}
