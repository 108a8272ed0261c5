import type { BacktestReport } from './wire.js';
import { CliError, CliErrorCode } from './cli.errors.js';
import { describeDecision, formatApplyResults, formatBacktest, formatBreaker, formatChange, formatDiff, formatDocumentErrors, formatError, table } from './format.js';

const V1 = `sha256:${'a'.repeat(64)}`;
const V2 = `sha256:${'b'.repeat(64)}`;

describe('formatChange', () => {
  it.each([
    [{ path: 'overrides.maxAutoActionsPerHour', from: 3, to: 2 }, '~ overrides.maxAutoActionsPerHour: 3 → 2'],
    [{ path: 'dryRun', to: true }, '+ dryRun: true'],
    [{ path: 'changeFreezes', from: [] }, '- changeFreezes: []'],
    [{ path: 'frameworks', from: ['SOC2'], to: ['SOC2', 'GDPR'] }, '~ frameworks: ["SOC2"] → ["SOC2","GDPR"]'],
  ])('%j', (change, line) => {
    expect(formatChange(change)).toBe(line);
  });

  it('cuts long values', () => {
    const line = formatChange({ path: 'inventory', to: { services: Array.from({ length: 20 }, (_, i) => ({ service: `s${i}` })) } });
    expect(line.length).toBeLessThan(100);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('formatApplyResults', () => {
  it('says per tenant what happened, with the version and the changed paths', () => {
    const lines = formatApplyResults([
      { tenantId: 'acme-health', outcome: 'created', version: V1, previousVersion: null, changes: [{ path: 'apiVersion', to: 'autoheal/v1' }, { path: 'inventory', to: {} }] },
      { tenantId: 'globex', outcome: 'unchanged', version: V2, previousVersion: V2, changes: [] },
      { tenantId: 'initech-eu', outcome: 'updated', version: V2, previousVersion: V1, changes: [{ path: 'overrides.maxAutoActionsPerHour', from: 3, to: 2 }] },
    ]);
    expect(lines).toEqual([
      `acme-health  created    ${V1}`,
      '    + apiVersion',
      '    + inventory',
      `globex       unchanged  ${V2}`,
      `initech-eu   updated    ${V2}  (was ${V1})`,
      '    ~ overrides.maxAutoActionsPerHour: 3 → 2',
      '3 document(s): 1 created, 1 updated, 1 unchanged',
    ]);
  });
});

describe('formatDocumentErrors', () => {
  const errors = [
    { document: 0, path: 'overrides.maxAutoActionsPerHour', message: '50 is looser than 6' },
    { document: 1, path: '(root)', message: 'Invalid input: expected object' },
    { document: 2, path: 'frameworks.0', message: 'Invalid option' },
  ];

  it('prints documents[i].path: message with the file each came from', () => {
    const sources = [
      { file: 'bad/a.yaml', position: 1, count: 1 },
      { file: 'bad/b.yaml', position: 1, count: 2 },
      { file: 'bad/b.yaml', position: 2, count: 2 },
    ];
    expect(formatDocumentErrors(errors, sources)).toEqual([
      '  documents[0].overrides.maxAutoActionsPerHour: 50 is looser than 6  (bad/a.yaml)',
      '  documents[1]: Invalid input: expected object  (bad/b.yaml, document 1 of 2)',
      '  documents[2].frameworks.0: Invalid option  (bad/b.yaml, document 2 of 2)',
    ]);
  });

  it('prints them without files when the sources are unknown', () => {
    expect(formatDocumentErrors(errors, null)[0]).toBe('  documents[0].overrides.maxAutoActionsPerHour: 50 is looser than 6');
  });

  it('counts them in the error headline', () => {
    const error = new CliError(CliErrorCode.InvalidDocuments, 'tenant documents are invalid; nothing was applied', { documentErrors: errors });
    expect(formatError(error)).toEqual(['error: tenant documents are invalid; nothing was applied (3 errors)', ...formatDocumentErrors(errors)]);
  });
});

describe('formatDiff', () => {
  it('lists every change, or says there is none', () => {
    expect(formatDiff('acme', { from: V1, to: V2, changes: [{ path: 'dryRun', to: true }] })).toEqual([`acme: ${V1} → ${V2}`, '  + dryRun: true']);
    expect(formatDiff('acme', { from: V1, to: V1, changes: [] })).toEqual([`acme: ${V1} → ${V1}`, '  no changes']);
  });
});

describe('describeDecision', () => {
  it.each([
    [{ decision: 'plan', action: 'restart' }, 'plan restart'],
    [{ decision: 'plan (dry run)', action: 'restart' }, 'plan restart (dry run)'],
    [{ decision: 'await_approval', action: 'replace' }, 'await approval of replace'],
    [{ decision: 'escalate', action: null }, 'escalate to a human'],
    [{ decision: 'hold', action: null }, 'hold'],
  ])('%j → %s', (decision, text) => {
    expect(describeDecision(decision)).toBe(text);
  });
});

describe('formatBacktest', () => {
  const line = (changed: boolean, incidentId: string) => ({
    incidentId,
    openedAt: '2026-01-02T03:04:05.000Z',
    kind: 'heartbeat_missed',
    target: 'api/api-1',
    then: { decision: 'plan', action: 'restart', policyVersion: V1, reason: 'restart is allowed automatically' },
    candidate: changed
      ? { decision: 'escalate', action: null, policyVersion: V2, reason: 'action_not_allowed: restart is neither automatic nor approvable' }
      : { decision: 'plan', action: 'restart', policyVersion: V2, reason: 'restart is allowed automatically' },
    changed,
  });
  const report: BacktestReport = { tenantId: 'acme', candidateVersion: V2, replayed: 2, changed: 1, skipped: 1, lines: [line(true, 'i-1'), line(false, 'i-2')] };

  it('shows each decision that would change, then and candidate, with their reasons', () => {
    expect(formatBacktest(report, { all: false, since: new Date('2026-01-01T00:00:00Z') })).toEqual([
      `backtest of acme against candidate ${V2}`,
      '2 past decision(s) decided since 2026-01-01T00:00:00.000Z replayed: 1 would change, 1 would not; 1 could not be replayed (decided before incident facts were stored)',
      '',
      '2026-01-02T03:04:05.000Z  heartbeat_missed on api/api-1  (incident i-1)',
      '  then       plan restart  [sha256:aaaaaaaaaaaa]',
      '             restart is allowed automatically',
      '  candidate  escalate to a human  [sha256:bbbbbbbbbbbb]',
      '             action_not_allowed: restart is neither automatic nor approvable',
    ]);
  });

  it('lists unchanged decisions too with all', () => {
    expect(formatBacktest(report, { all: true }).at(-1)).toBe('2026-01-02T03:04:05.000Z  heartbeat_missed on api/api-1  (incident i-2): plan restart, unchanged');
  });
});

describe('formatBreaker', () => {
  it('says an open breaker stops everything, why, and how to resume', () => {
    const lines = formatBreaker({ open: true, reason: 'circuit_breaker: 2 incidents', openedAt: '2026-01-01T00:00:00.000Z', resumedAt: null, resumedBy: null });
    expect(lines[0]).toBe('breaker: OPEN since 2026-01-01T00:00:00.000Z: no automatic action runs until a human resumes');
    expect(lines).toContain('  reason: circuit_breaker: 2 incidents');
  });

  it('says who resumed a closed breaker last', () => {
    expect(formatBreaker({ open: false, reason: 'x', openedAt: 'a', resumedAt: '2026-01-01T01:00:00.000Z', resumedBy: 'carol' })).toEqual([
      'breaker: closed: automatic actions run (last resumed 2026-01-01T01:00:00.000Z by carol)',
    ]);
  });

  it("lists the tenant breakers after the global one, each open one with how to resume it", () => {
    const closed = { open: false, reason: null, openedAt: null, resumedAt: null, resumedBy: null };
    const lines = formatBreaker({
      ...closed,
      tenants: [
        { tenantId: 'acme', open: true, reason: 'tenant storm', openedAt: '2026-01-01T00:00:00.000Z', resumedAt: null, resumedBy: null },
        { tenantId: 'globex', open: false, reason: 'old storm', openedAt: 'a', resumedAt: '2026-01-01T01:00:00.000Z', resumedBy: 'dana' },
      ],
    });
    expect(lines).toEqual([
      'breaker: closed: automatic actions run',
      'tenant acme: OPEN since 2026-01-01T00:00:00.000Z: no automatic action of this tenant runs until a human resumes',
      '  reason: tenant storm',
      '  resume: npx autoheal breaker resume --tenant acme --reason <why it is safe>',
      'tenant globex: closed (last resumed 2026-01-01T01:00:00.000Z by dana)',
    ]);
  });
});

describe('table', () => {
  it('pads columns to the widest cell', () => {
    expect(table(['A', 'LONG'], [['xyz', '1']])).toEqual(['A    LONG', 'xyz  1']);
  });
});
