// The compliance report against a second computation: a generated history is published on the
// bus as its producers would, recorded by the real auditor (real Postgres, real nats-server); the
// report is read over REST, the trail exported as a bundle, and every figure recomputed from the
// bundle alone by recompute-report.ts (no SQL, no code shared with the auditor's). They must be
// equal. Also: the signatures hold and fail on a changed byte, the renderings escape what the
// trail carries, bad input names its field, and another tenant's key gets nothing.
import { randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { checkReportSignature, verifyBundle, type ReportRendering } from '@autoheal/evidence';
import { closeNats, connectNats } from '@autoheal/messaging';
import { parsePublicKey } from '@autoheal/security';
import { createTestDatabase, expectEventually, publishSigned, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { apiKeyId, hashApiKey } from '../../apps/auditor/src/api-keys/api-key';
import { AuditReadRecorder } from '../../apps/auditor/src/audit-log/audit-read-recorder';
import { ACME_KEY, GLOBEX_KEY, OPS_KEY, startAuditor, type RunningAuditor } from '../../apps/auditor/src/test-support/auditor';
import { run } from '../../apps/decision/src/cli/run-cli';
import { parseRows, recomputeReport } from './recompute-report';

jest.setTimeout(300_000);

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const FROM = new Date(T0).toISOString();
const TO = new Date(T0 + 48 * HOUR).toISOString();
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();
const SCRIPT = '<script>alert("x")</script>';
const FORMULA = '=HYPERLINK("http://attacker.example/","click")';

/** A small deterministic generator, so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Action = 'restart' | 'replace' | 'failover' | 'rollback';

/** The events of one tenant's history: incidents and what was done about them, refusals, breaches, approvals, policy changes. */
function history(tenantId: string): Envelope[] {
  const rnd = prng(12);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const events: Envelope[] = [];
  const policy = (ms: number, version: string, previous: string | null, by: string, thresholds: { availabilityTarget: number; maxTimeToRemediateMs: number }) =>
    events.push(
      newEvent('compliance.policy_changed', {
        tenantId,
        producer: 'decision',
        occurredAt: at(ms),
        data: { policyVersion: version, previousVersion: previous, changedBy: by, changes: [{ path: 'overrides.availabilityTarget', from: 0.999, to: thresholds.availabilityTarget }], thresholds },
      }),
    );
  const incident = (service: string, instance: string, openMs: number, life: { detectMs: number; resolveMs: number | null; steps: { action: Action; approvedBy?: string; rejectedBy?: string; outcome: 'verified' | 'failed' | 'verification_failed' | 'rolled_back' }[] }) => {
    const incidentId = randomUUID();
    const meta = (producer: string, ms: number) => ({ tenantId, producer, correlationId: incidentId, occurredAt: at(ms) });
    events.push(
      newEvent('incident.opened', {
        ...meta('detector', openMs),
        data: { incidentId, service, instance, kind: 'heartbeat_missed', severity: 'major', signalAt: iso(openMs - life.detectMs), detectedAt: iso(openMs), detectionLatencyMs: life.detectMs, evidence: {} },
      }),
    );
    let ms = openMs;
    for (const step of life.steps) {
      const target = { remediationId: randomUUID(), incidentId, service, instance, action: step.action };
      const explanation = { policyVersion: 'v1', reason: 'playbook', candidates: [] };
      events.push(newEvent('remediation.planned', { ...meta('decision', (ms += 1_000)), data: { ...target, ...explanation } }));
      if (step.approvedBy || step.rejectedBy) {
        events.push(newEvent('remediation.awaiting_approval', { ...meta('decision', (ms += 1_000)), data: { ...target, ...explanation, expiresAt: iso(ms + HOUR) } }));
        if (step.rejectedBy) {
          events.push(newEvent('remediation.rejected', { ...meta('decision', (ms += int(60_000, 600_000))), data: { ...target, rejectedBy: step.rejectedBy, reason: 'not now' } }));
          continue;
        }
        events.push(newEvent('remediation.approved', { ...meta('decision', (ms += int(60_000, 600_000))), data: { ...target, approvedBy: step.approvedBy! } }));
      }
      events.push(newEvent('remediation.started', { ...meta('executor', (ms += 1_000)), data: { ...target, executor: 'executor-1' } }));
      const executedMs = (ms += int(1_000, 30_000));
      if (step.outcome === 'failed') {
        events.push(newEvent('remediation.failed', { ...meta('executor', executedMs), data: { ...target, durationMs: 900, error: { code: 'agent_unreachable', message: 'no reply' } } }));
        continue;
      }
      events.push(newEvent('remediation.succeeded', { ...meta('executor', executedMs), data: { ...target, durationMs: 900, details: {} } }));
      if (step.outcome === 'rolled_back') {
        events.push(newEvent('remediation.rolled_back', { ...meta('executor', (ms += 1_000)), data: { ...target, reason: 'health worse after' } }));
      } else if (step.outcome === 'verification_failed') {
        events.push(newEvent('remediation.verification_failed', { ...meta('decision', (ms += 60_000)), data: { ...target, reason: 'still failing', executedAt: iso(executedMs), deadline: iso(ms) } }));
      } else {
        const verifiedMs = life.resolveMs === null ? (ms += 5_000) : Math.max(openMs + life.resolveMs, ms) + 1_000;
        events.push(
          newEvent('remediation.verified', { ...meta('decision', verifiedMs), data: { ...target, verifiedBy: 'incident_resolved', executedAt: iso(executedMs), timeToRemediateMs: verifiedMs - openMs } }),
        );
      }
    }
    if (life.resolveMs !== null) {
      const resolvedMs = openMs + life.resolveMs;
      events.push(
        newEvent('incident.resolved', {
          ...meta('detector', resolvedMs),
          data: { incidentId, service, instance, kind: 'heartbeat_missed', resolvedAt: iso(resolvedMs), reason: 'heartbeats resumed', durationMs: life.resolveMs },
        }),
      );
    }
    return incidentId;
  };

  policy(-2 * HOUR, 'v1', null, 'alice@example.com', { availabilityTarget: 0.999, maxTimeToRemediateMs: 15 * MIN });
  // Down before the period starts, resolved inside it: its downtime counts from the period's start, its detection does not.
  incident('api', 'api-1', -30 * MIN, { detectMs: 4_000, resolveMs: 40 * MIN, steps: [{ action: 'restart', outcome: 'verified' }] });
  // api: more than a hundred automatic restarts (the evidence becomes a range), some failing over to a replace.
  for (let k = 0; k < 130; k++) {
    const openMs = 10 * MIN + k * 20 * MIN + int(0, 60_000);
    const fails = k % 9 === 4;
    incident('api', `api-${k % 3}`, openMs, {
      detectMs: int(500, 20_000),
      resolveMs: int(2, 25) * MIN,
      steps: fails ? [{ action: 'restart', outcome: 'failed' }, { action: 'replace', outcome: 'verified' }] : [{ action: 'restart', outcome: k % 13 === 6 ? 'verification_failed' : 'verified' }],
    });
  }
  // db: failovers go through approval; two overlapping incidents (one downtime), one never resolved (down to the period's end).
  for (let k = 0; k < 6; k++) {
    const approvedBy = k % 3 === 2 ? undefined : `bob${k}@example.com`;
    incident('db', `db-${k % 2}`, 3 * HOUR + k * 4 * HOUR, {
      detectMs: int(1_000, 9_000),
      resolveMs: int(20, 40) * MIN,
      steps: approvedBy ? [{ action: 'failover', approvedBy, outcome: k === 4 ? 'rolled_back' : 'verified' }] : [{ action: 'failover', rejectedBy: 'carol@example.com', outcome: 'verified' }],
    });
  }
  incident('db', 'db-1', 3 * HOUR + 10 * MIN, { detectMs: 2_000, resolveMs: 50 * MIN, steps: [] });
  incident('db', 'db-0', 40 * HOUR, { detectMs: 3_000, resolveMs: null, steps: [{ action: 'rollback', approvedBy: 'dave@example.com', outcome: 'verification_failed' }] });
  // worker: refused actions, by rule.
  const workerIncident = incident('worker', 'w-1', 20 * HOUR, { detectMs: 1_500, resolveMs: 3 * MIN, steps: [] });
  for (const [k, rule] of ['change_freeze', 'change_freeze', 'region_not_allowed', 'change_freeze', 'max_auto_actions'].entries()) {
    events.push(
      newEvent('compliance.action_refused', {
        tenantId,
        producer: 'decision',
        correlationId: workerIncident,
        occurredAt: at(20 * HOUR + (k + 1) * 1_000),
        data: { incidentId: workerIncident, service: 'worker', instance: 'w-1', action: k === 2 ? 'failover' : 'restart', rule, reason: `refused: ${rule}`, policyVersion: 'v1' },
      }),
    );
  }
  // Breaches: one of a service, one of the tenant as a whole (its reason carries markup the HTML must escape).
  events.push(
    newEvent('compliance.breach', {
      tenantId,
      producer: 'decision',
      occurredAt: at(30 * HOUR),
      data: { rule: 'time_to_remediate', incidentId: randomUUID(), service: 'api', observed: 1_200_000, threshold: 900_000, reason: 'open for 20 min', policyVersion: 'v1' },
    }),
    newEvent('compliance.breach', {
      tenantId,
      producer: 'decision',
      occurredAt: at(31 * HOUR),
      data: { rule: 'availability', observed: 0.998, threshold: 0.999, windowMs: 86_400_000, reason: `availability under target ${SCRIPT}`, policyVersion: 'v1' },
    }),
  );
  // A policy change inside the period (by a name a spreadsheet would run), and one after it: only the former is in force at the end.
  policy(24 * HOUR, 'v2', 'v1', FORMULA, { availabilityTarget: 0.9995, maxTimeToRemediateMs: 10 * MIN });
  policy(49 * HOUR, 'v3', 'v2', 'alice@example.com', { availabilityTarget: 0.99, maxTimeToRemediateMs: 30 * MIN });
  // After the period: not in the report.
  incident('api', 'api-1', 50 * HOUR, { detectMs: 1_000, resolveMs: 5 * MIN, steps: [{ action: 'restart', outcome: 'verified' }] });
  return events;
}

describe('compliance report = an independent recomputation from the export (real Postgres, nats-server and auditor)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let admin: Client;
  let nc: NatsConnection;
  let auditor: RunningAuditor;
  let auditorKeys: Map<string, KeyObject>;

  const reportPath = (tenant: string, query: string) => `/v1/tenants/${tenant}/reports/compliance?${query}`;
  async function get(path: string, key: string = OPS_KEY): Promise<{ status: number; text: string; headers: Headers }> {
    const res = await fetch(`${auditor.baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, text: await res.text(), headers: res.headers };
  }
  const signatureOf = (format: ReportRendering, tenantId: string, headers: Headers) => ({
    format: 'autoheal.compliance-report.v1',
    rendering: format,
    tenantId,
    sha256: headers.get('x-autoheal-report-sha256'),
    keyId: headers.get('x-autoheal-report-key-id'),
    signature: headers.get('x-autoheal-report-signature'),
  });

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_READ_BURST: '1000', AUDITOR_READ_RATE_PER_MINUTE: '6000' } });
    nc = await connectNats({ servers: nats.url, name: 'report-equality-int-spec' });
    const events = [...history('acme'), ...history('globex').slice(0, 40)];
    for (const event of events) await publishSigned(nc, auditor.keys, event);
    await expectEventually(
      async () => {
        const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM auditor.audit_log WHERE event_id = ANY($1)`, [events.map((e) => e.id)]);
        expect(Number(rows[0].n)).toBe(events.length);
      },
      { timeoutMs: 180_000 },
    );
    const keys = JSON.parse((await get('/v1/audit/keys')).text) as { keys: { keyId: string; publicKey: string }[] };
    auditorKeys = new Map(keys.keys.map((k) => [k.keyId, parsePublicKey(k.publicKey)]));
  }, 300_000);

  afterAll(async () => {
    await auditor?.stop();
    if (nc) await closeNats(nc);
    await admin?.end();
    await db?.drop();
    await nats?.stop();
  });

  it('recomputes every figure of the report from the exported bundle, and finds them equal', async () => {
    const answer = await get(reportPath('acme', `from=${FROM}&to=${TO}&format=json`));
    expect(answer.status).toBe(200);
    expect(checkReportSignature(answer.text, signatureOf('json', 'acme', answer.headers), (id) => auditorKeys.get(id) ?? null)).toBeNull();
    const report = JSON.parse(answer.text) as { generatedAt: string; throughSeq: number; format: string; controls: Record<string, string> } & Record<string, unknown>;

    const exported = await get('/v1/tenants/acme/audit/export');
    expect(exported.status).toBe(200);
    const files = new Map(Object.entries((JSON.parse(exported.text) as { files: Record<string, string> }).files).map(([name, text]) => [name, Buffer.from(text)]));
    const verdict = verifyBundle(files, { trustedKeys: auditorKeys });
    expect(verdict.problems).toEqual([]);
    expect(verdict.ok).toBe(true);

    const recomputed = recomputeReport(parseRows(files.get('rows.jsonl')!.toString('utf8')), 'acme', FROM, TO, report.throughSeq);
    const { generatedAt: _generatedAt, format, controls, ...figures } = report;
    expect(format).toBe('autoheal.compliance-report.v1');
    expect(figures).toEqual(recomputed);
    // Every control a figure names is explained in the report.
    for (const f of recomputed.figures) for (const c of f.controls) expect(controls).toHaveProperty([c]);

    // What the history holds, so that equality is not of two empty reports.
    const fig = (service: string, name: string, key = '') => recomputed.figures.find((f) => f.service === service && f.name === name && f.key === key);
    expect(recomputed.services).toEqual(['*', 'api', 'db', 'worker']);
    expect(recomputed.thresholds).toMatchObject({ policyVersion: 'v2', availabilityTarget: 0.9995, maxTimeToRemediateMs: 600_000 });
    expect(fig('api', 'detection_time')?.values.count).toBe(130);
    expect(fig('api', 'actions', 'restart/automatic/verified')?.evidence.seqs).toBeNull();
    expect(fig('api', 'actions', 'restart/automatic/verified')?.evidence.rows).toBeGreaterThan(100);
    expect(fig('db', 'availability')?.values.met).toBe(false);
    expect(fig('db', 'actions', 'failover/approved/rolled_back')?.values.count).toBe(1);
    expect(fig('db', 'time_to_remediate')?.values.unverified).toBeGreaterThan(0);
    expect(fig('worker', 'refusals', 'change_freeze')?.values.count).toBe(3);
    expect(recomputed.figures.filter((f) => f.name === 'approval').map((f) => f.values.decision).sort()).toEqual(['approved', 'approved', 'approved', 'approved', 'approved', 'rejected', 'rejected']);
    expect(recomputed.figures.filter((f) => f.name === 'policy_change').map((f) => f.key)).toEqual(['v2']);
    expect(recomputed.figures.filter((f) => f.name === 'breach').map((f) => [f.service, f.key])).toEqual([
      ['*', 'availability'],
      ['api', 'time_to_remediate'],
    ]);
  });

  it('serves CSV and a printable HTML page of the same figures, each signed, escaping what the trail carries', async () => {
    for (const format of ['csv', 'html'] as const) {
      const answer = await get(reportPath('acme', `from=${FROM}&to=${TO}&format=${format}`));
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toContain(format === 'csv' ? 'text/csv' : 'text/html');
      const signature = signatureOf(format, 'acme', answer.headers);
      const keys = (id: string) => auditorKeys.get(id) ?? null;
      expect(checkReportSignature(answer.text, signature, keys)).toBeNull();
      // One byte changed, or the signature passed off as another rendering's: refused.
      expect(checkReportSignature(answer.text.replace('api', 'apj'), signature, keys)).toBe('body_mismatch');
      expect(checkReportSignature(answer.text, { ...signature, rendering: format === 'csv' ? 'html' : 'csv' }, keys)).toBe('bad_signature');
      if (format === 'html') {
        expect(answer.text).not.toContain('<script');
        expect(answer.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
        expect(answer.text).not.toMatch(/<(link|img|iframe)\b|src=|https?:\/\/(?!attacker)/);
      } else {
        const lines = answer.text.trimEnd().split('\r\n');
        expect(lines[0]).toBe('service,figure,key,metric,value,controls,evidence_rows,first_seq,last_seq,seqs,links');
        // The formula-looking name is led by an apostrophe and quoted: a spreadsheet shows it, it does not run it.
        expect(lines.some((l) => l.includes(`"'=HYPERLINK(""http://attacker.example/"",""click"")"`))).toBe(true);
        expect(lines.some((l) => l.startsWith('api,time_to_remediate,,p95,'))).toBe(true);
      }
    }
  });

  it('answers bad input with a 400 naming the field, and another tenant\u2019s key with a 403 and no report', async () => {
    const cases: [string, string][] = [
      [`from=yesterday&to=${TO}`, 'from'],
      [`from=${FROM}`, 'to'],
      [`from=${TO}&to=${FROM}`, 'from'],
      [`from=${FROM}&to=${TO}&format=pdf`, 'format'],
      [`from=${FROM}&to=${TO}&tenant=globex`, 'tenant'],
    ];
    for (const [query, field] of cases) {
      const answer = await get(reportPath('acme', query));
      expect({ query, status: answer.status }).toEqual({ query, status: 400 });
      expect(JSON.stringify((JSON.parse(answer.text) as { fields?: unknown }).fields ?? answer.text)).toContain(field);
    }
    const refused = await get(reportPath('acme', `from=${FROM}&to=${TO}`), GLOBEX_KEY);
    expect(refused.status).toBe(403);
    expect(refused.text).not.toContain('figures');
    // globex's own report holds globex's rows only.
    const own = await get(reportPath('globex', `from=${FROM}&to=${TO}`), GLOBEX_KEY);
    expect(own.status).toBe(200);
    const body = JSON.parse(own.text) as { tenantId: string; figures: { evidence: { links: string[] } }[] };
    expect(body.tenantId).toBe('globex');
    expect(body.figures.length).toBeGreaterThan(0);
    expect(body.figures.flatMap((f) => f.evidence.links).every((l) => l.startsWith('/v1/tenants/globex/audit?'))).toBe(true);
  });

  it("records the report reads in the reader's audit.read row, as kind report", async () => {
    await get(reportPath('acme', `from=${FROM}&to=${TO}`), ACME_KEY);
    await auditor.app.get(AuditReadRecorder).flushAll();
    const { rows } = await admin.query<{ payload: { kinds: Record<string, number> } }>(
      `SELECT payload FROM auditor.audit_log WHERE tenant_id = 'acme' AND event_type = 'audit.read' AND actor = $1`,
      [apiKeyId(hashApiKey(ACME_KEY))],
    );
    expect(rows.reduce((n, r) => n + (r.payload.kinds.report ?? 0), 0)).toBe(1);
  });

  it('autoheal report writes the report and its signature; autoheal report verify accepts it and refuses a changed copy', async () => {
    const work = mkdtempSync(join(tmpdir(), 'autoheal-report-'));
    try {
      const cli = async (args: string[]) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await run(args, { AUTOHEAL_ADMIN_KEY: OPS_KEY, AUTOHEAL_AUDITOR_URL: auditor.baseUrl }, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => new Date() });
        return { code, out, err };
      };
      const file = join(work, 'acme.html');
      const keysFile = join(work, 'keys.json');
      writeFileSync(keysFile, (await get('/v1/audit/keys')).text);
      const wrote = await cli(['report', '--tenant', 'acme', '--from', FROM, '--to', TO, '--format', 'html', '--out', file]);
      expect(wrote).toMatchObject({ code: 0, err: [] });
      expect(readFileSync(file, 'utf8')).toContain('Compliance report: tenant acme');
      const verified = await cli(['report', 'verify', file, '--trusted-keys', keysFile]);
      expect(verified).toMatchObject({ code: 0, err: [] });
      expect(verified.out.join('\n')).toContain('signature holds');

      writeFileSync(file, readFileSync(file, 'utf8').replace('met: false', 'met: true'));
      const changed = await cli(['report', 'verify', file, '--trusted-keys', keysFile]);
      expect(changed.code).toBe(1);
      expect(changed.out.join('\n')).toContain('SIGNATURE DOES NOT HOLD');

      const bad = await cli(['report', '--tenant', 'acme', '--from', TO, '--to', FROM]);
      expect(bad.code).toBe(2);
      expect(bad.err[0]).toContain('--from must be before --to');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('documents the route in the OpenAPI document', async () => {
    const doc = JSON.parse((await get('/docs-json')).text) as { paths: Record<string, { get: { responses: Record<string, unknown>; parameters: { name: string }[] } }>; components: { schemas: Record<string, unknown> } };
    const route = doc.paths['/v1/tenants/{tenantId}/reports/compliance'];
    expect(Object.keys(route.get.responses).sort()).toEqual(['200', '400', '401', '403', '429']);
    expect(route.get.parameters.map((p) => p.name).sort()).toEqual(['format', 'from', 'tenantId', 'to']);
    for (const schema of ['ComplianceReportDto', 'FigureDto', 'EvidenceDto']) expect(doc.components.schemas).toHaveProperty([schema]);
  });
});
