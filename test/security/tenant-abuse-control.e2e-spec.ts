/**
 * Tenant isolation under abuse, part two: what tenant A can do to the control plane every tenant
 * shares — the circuit breakers, the dead-letter stream, the detector's instance state, the
 * auditor's reads and key checks, the approval flow — against the whole system as processes
 * (real nats-server with TLS and NKey permissions, real Postgres, the four services and the demo
 * agent). A attacks with its own credentials only; each attack is shown to have had no effect,
 * and then `expectTenantUnaffected` shows B's next crash detected, restarted, resolved and
 * recorded as if A did not exist (tenant-abuse-support.ts).
 *
 * A system of its own, with realistic breaker, read and quota settings (tenant-abuse.e2e-spec.ts
 * runs with limits out of the way). The cases run in file order and build on each other where
 * the system's state is shared: A's breaker is opened by its storm (2) before A exhausts its
 * instance quota (7).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { deduplicationKey, newEvent } from '@autoheal/contracts';
import { expectEventually } from '@autoheal/testing';
import { OPS_KEY, startSecuritySystem, TENANT, type SecuritySystem } from './security-system.js';
import { alertPayload, auditActor, exitedEvent, http, tenantAbuse, type Answer, type SeenEvent, type TenantAbuse } from './tenant-abuse-support.js';

/** The victim: the security system's own tenant. */
const B = TENANT;
/** The attacker, a tenant of the same deployment. */
const A = 'abuse-ctl-a';
/** One of B's instances per probe (a restarted target is in its cooldown for a minute), and one whose alert awaits approval. */
const B_PROBES = ['b-1', 'b-2', 'b-3', 'b-4', 'b-5', 'b-6', 'b-7'];
const B_GATED = 'b-gated';
/** A runs one instance and declares four more that no agent runs: a restart of those fails, so a storm of them stays a storm. */
const A_RUN = ['a-1'];
const A_DECLARED_ONLY = ['a-d1', 'a-d2', 'a-d3', 'a-d4'];
const KEYS = {
  ingest: { [A]: 'ing_ctl_a_0123456789abcdef', [B]: 'ing_ctl_b_0123456789abcdef' },
  audit: { [A]: 'aud_ctl_a_0123456789abcdef', [B]: 'aud_ctl_b_0123456789abcdef' },
};
const ADMIN_KEY = 'adm_ctl_bootstrap_0123456789abcdef';
const DEAD_LETTERS_PER_SUBJECT = 20;
const MAX_INSTANCES = 20;

interface BreakerOverview {
  open: boolean;
  reason: string | null;
  tenants: { tenantId: string; open: boolean; reason: string | null }[];
}

describe('tenant isolation under abuse: A against the shared control plane, B unaffected (whole system)', () => {
  let sys: SecuritySystem;
  let abuse: TenantAbuse;
  let bus: SeenEvent[];
  let decisionUrl: string;
  let nextB = 0;

  beforeAll(async () => {
    // Crashes and alerts are this suite's signals. The metric rules stay off: on a loaded machine
    // they open incidents of their own (a saturated demo instance at boot), which no attack caused
    // and which would hide what one did.
    const rulesFile = join(mkdtempSync(join(tmpdir(), 'abuse-control-rules-')), 'rules.json');
    const off = { enabled: false };
    writeFileSync(
      rulesFile,
      JSON.stringify({
        defaults: { errorRate: off, latency: off, saturation: { cpu: off, memory: off, eventLoopLag: off, disk: off }, anomaly: off, slo: off, trend: off, checks: off },
      }),
    );
    sys = await startSecuritySystem([...B_PROBES, B_GATED], {
      tenants: [{ tenantId: A, instances: A_RUN, declaredOnly: A_DECLARED_ONLY }],
      env: {
        DETECTOR_INGEST_API_KEYS: Object.entries(KEYS.ingest).map(([t, k]) => `${t}=${k}`).join(','),
        AUDITOR_TENANT_API_KEYS: Object.entries(KEYS.audit).map(([t, k]) => `${t}=${k}`).join(','),
        DECISION_ADMIN_API_KEY: ADMIN_KEY,
        DETECTOR_RULES_FILE: rulesFile,
        // See tenant-abuse.e2e-spec.ts: no hang incident can open between a probe's hang and its exit.
        DETECTOR_MISSED_INTERVALS: '50',
        // The breakers as a deployment runs them (the security system's default keeps them away).
        DECISION_BREAKER_WINDOW_MS: '60000',
        DECISION_BREAKER_FLEET_SHARE: '0.3',
        DECISION_BREAKER_MIN_INSTANCES: '3',
        DECISION_BREAKER_NO_INVENTORY_MIN_INSTANCES: '5',
        DECISION_BREAKER_MIN_TENANTS: '3',
        DECISION_BREAKER_TENANT_SHARE: '0.5',
        // Quotas low enough for a test to reach.
        NATS_DEAD_LETTERS_PER_SUBJECT: String(DEAD_LETTERS_PER_SUBJECT),
        DETECTOR_MAX_INSTANCES_PER_TENANT: String(MAX_INSTANCES),
        // Read limits that a flood hits and B's polling does not (10 tokens a second, a verify costs 10).
        AUDITOR_READ_RATE_PER_MINUTE: '600',
        AUDITOR_READ_BURST: '100',
        // Read and refusal records written within seconds, so a case can see where they went.
        AUDITOR_READ_RECORD_WINDOW_SECONDS: '2',
        AUDITOR_REFUSAL_WINDOW_MS: '2000',
      },
    });
    abuse = tenantAbuse(sys, { victim: B, attacker: A, keys: KEYS });
    bus = abuse.bus;
    decisionUrl = `http://127.0.0.1:${sys.system.ports.decision}`;
  });

  afterAll(async () => {
    abuse?.close();
    await sys?.stop();
  });

  function nextInstance(): string {
    const instance = B_PROBES[nextB++];
    if (!instance) throw new Error(`more probes than B has instances (${B_PROBES.length}); add instances to B_PROBES`);
    return instance;
  }

  const admin = (method: 'GET' | 'POST', path: string, key: string, body?: unknown) => http(method, `${decisionUrl}${path}`, key, body === undefined ? undefined : JSON.stringify(body));

  async function breaker(): Promise<BreakerOverview> {
    const answer = await admin('GET', '/v1/admin/breaker', ADMIN_KEY);
    if (answer.status !== 200) throw new Error(`GET /v1/admin/breaker answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body as unknown as BreakerOverview;
  }

  const ofTenant = (tenant: string, since: number) => bus.slice(since).filter((e) => e.event.tenantId === tenant);
  const show = (events: SeenEvent[]) => events.map((e) => `${e.event.type} ${JSON.stringify(e.event.data.instance ?? '')} ${JSON.stringify(e.event.data.reason ?? '')}`).join('\n');

  /** A's producer, as the SDK publishes: A's own NATS credentials, A's subject. */
  async function publishAsA(subject: string, payload: string, msgID?: string): Promise<void> {
    await jetstream(await sys.as(`producer:${A}`)).publish(subject, payload, msgID ? { msgID } : undefined);
  }

  /** A's exits of `instances`, through the real detector; resolves once A's decision on each is on the bus. */
  async function stormAsA(instances: string[], since: number): Promise<SeenEvent[]> {
    for (const instance of instances) {
      const event = exitedEvent(A, instance, 1);
      await publishAsA(`health.${A}.api.${instance}`, JSON.stringify(event), deduplicationKey(A, event.id));
    }
    return expectEventually(() => {
      const opened = ofTenant(A, since).filter((e) => e.event.type === 'incident.opened' && instances.includes(String(e.event.data.instance)));
      const decided = opened.filter((o) => ofTenant(A, since).some((e) => e.event.type.startsWith('remediation.') && e.event.correlationId === o.event.data.incidentId));
      if (decided.length < instances.length) throw new Error(`A's exits of ${instances.join(', ')}: ${opened.length} opened, ${decided.length} decided; A's events:\n${show(ofTenant(A, since))}`);
      return ofTenant(A, since);
    }, { timeoutMs: 45_000, intervalMs: 200 });
  }

  const subjectCounts = async (filter: string): Promise<Record<string, number>> => {
    const jsm = await jetstreamManager(sys.nc);
    const info = await jsm.streams.info('DEAD_LETTER', { subjects_filter: filter });
    return info.state.subjects ?? {};
  };

  it('1: A’s exits of instances no inventory declares open no breaker at all; B’s crash is still restarted', async () => {
    const since = await abuse.mark();
    const ghosts = ['ghost-1', 'ghost-2', 'ghost-3', 'ghost-4', 'ghost-5'];
    const seen = await stormAsA(ghosts, since.bus);
    // Each was decided as usual and reported as counting toward no breaker.
    const decisions = seen.filter((e) => ['remediation.planned', 'remediation.escalated', 'remediation.deferred'].includes(e.event.type) && ghosts.includes(String(e.event.data.instance)));
    expect(decisions.length).toBeGreaterThanOrEqual(ghosts.length);
    for (const d of decisions) expect(String(d.event.data.reason)).toContain('not counted toward any circuit breaker');

    await abuse.expectTenantUnaffected(since, abuse.crashProbe(nextInstance()));
    const state = await breaker();
    expect({ global: state.open, reason: state.reason, tenants: state.tenants }).toEqual({ global: false, reason: null, tenants: [] });
    expect(show(bus.slice(since.bus).filter((e) => e.event.type.startsWith('compliance.breaker')))).toBe('');
  });

  it('2: A’s own storm (3 of its 5 declared instances) opens A’s breaker only; B’s crash is still restarted', async () => {
    const since = await abuse.mark();
    await stormAsA(A_DECLARED_ONLY.slice(0, 3), since.bus);
    await expectEventually(async () => {
      const state = await breaker();
      expect(state.tenants.map((t) => ({ tenantId: t.tenantId, open: t.open }))).toEqual([{ tenantId: A, open: true }]);
      expect(state.open).toBe(false);
    }, { timeoutMs: 30_000, intervalMs: 500 });
    const opened = bus.slice(since.bus).filter((e) => e.event.type === 'compliance.breaker_opened');
    expect(opened.map((e) => ({ tenant: e.event.tenantId, scope: e.event.data.scope }))).toEqual([{ tenant: A, scope: 'tenant' }]);

    await abuse.expectTenantUnaffected(since, abuse.crashProbe(nextInstance()));
    const state = await breaker();
    expect({ global: state.open, tenants: state.tenants.map((t) => `${t.tenantId}:${t.open}`) }).toEqual({ global: false, tenants: [`${A}:true`] });
    // A's fourth declared instance, failing now, is held by A's breaker: A's storm stops A.
    const fourth = await stormAsA([A_DECLARED_ONLY[3]], since.bus);
    const held = fourth.find((e) => e.event.data.instance === A_DECLARED_ONLY[3] && e.event.type === 'remediation.escalated');
    expect(String(held?.event.data.reason)).toContain('tenant_breaker');
  });

  it('3: A floods invalid events on the bus and over HTTP: its dead letters stay within the per-subject limit and B’s earlier dead letter is kept', async () => {
    // B's own dead letter, written before the flood: an invalid event on B's producer.
    const bMarker = `b-invalid-${randomBytes(6).toString('hex')}`;
    await jetstream(await sys.as(`producer:${B}`)).publish(`health.${B}.api.b-1`, JSON.stringify({ marker: bMarker }));
    const bSubject = `deadletter.HEALTH.detector-health.${B}`;
    const bLetterSeq = await expectEventually(async () => {
      const jsm = await jetstreamManager(sys.nc);
      const m = await jsm.streams.getMessage('DEAD_LETTER', { last_by_subj: bSubject });
      expect(m?.string()).toContain(bMarker);
      return m!.seq;
    }, { timeoutMs: 20_000, intervalMs: 500 });

    const since = await abuse.mark();
    const flood = 3 * DEAD_LETTERS_PER_SUBJECT;
    for (let i = 0; i < flood; i++) await publishAsA(`health.${A}.api.a-1`, JSON.stringify({ marker: `a-bus-${i}` }));
    const answers: Answer[] = [];
    for (let i = 0; i < flood; i++) answers.push(await abuse.ingest(A, KEYS.ingest[A], `{"marker": "a-http-${i}"`));
    expect(answers.map((a) => `${a.status} ${a.body.code ?? ''}`).filter((s) => s !== '400 malformed_json')).toEqual([]);

    // The last of each flood was dead-lettered: the flood was processed to its end…
    const jsm = await jetstreamManager(sys.nc);
    const aBus = `deadletter.HEALTH.detector-health.${A}`;
    const aHttp = `deadletter.HEALTH.http-ingest.${A}`;
    await expectEventually(async () => {
      expect((await jsm.streams.getMessage('DEAD_LETTER', { last_by_subj: aBus }))?.string()).toContain(`a-bus-${flood - 1}`);
      expect((await jsm.streams.getMessage('DEAD_LETTER', { last_by_subj: aHttp }))?.string()).toContain(`a-http-${flood - 1}`);
    }, { timeoutMs: 30_000, intervalMs: 500 });
    // …and A keeps at most the limit on each of its subjects, B's letter still there.
    const counts = await subjectCounts(`deadletter.*.*.${A}`);
    expect(counts).toEqual({ [aBus]: DEAD_LETTERS_PER_SUBJECT, [aHttp]: DEAD_LETTERS_PER_SUBJECT });
    expect((await jsm.streams.getMessage('DEAD_LETTER', { seq: bLetterSeq }))?.string()).toContain(bMarker);
    expect((await subjectCounts(bSubject))[bSubject]).toBeGreaterThanOrEqual(1);

    await abuse.expectTenantUnaffected(since, abuse.crashProbe(nextInstance()));
  });

  it('4: A hammers verify on its own trail, 16 at once: A gets 429s while B reads, and B’s crash is recorded in a trail that verifies', async () => {
    const since = await abuse.mark();
    const statuses: number[] = [];
    let refused: Answer | undefined;
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        const wave = await Promise.all(Array.from({ length: 16 }, () => abuse.auditOf(A, KEYS.audit[A], '/verify')));
        statuses.push(...wave.map((a) => a.status));
        refused ??= wave.find((a) => a.status === 429);
      }
    })();
    const bReads: number[] = [];
    try {
      await expectEventually(() => expect(statuses.length).toBeGreaterThanOrEqual(32), { timeoutMs: 30_000, intervalMs: 100 });
      for (let i = 0; i < 5; i++) bReads.push((await abuse.auditOf(B, KEYS.audit[B], '?limit=20')).status);
      await abuse.expectTenantUnaffected(since, abuse.crashProbe(nextInstance()));
    } finally {
      flooding = false;
      await flood;
    }
    expect(bReads).toEqual([200, 200, 200, 200, 200]);
    expect({ other: statuses.filter((s) => s !== 200 && s !== 429), refused: statuses.filter((s) => s === 429).length > 0 }).toEqual({ other: [], refused: true });
    expect(refused?.body).toMatchObject({ code: 'rate_limited' });
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('5: 200 requests on B’s trail with random keys and with A’s key are all refused, recorded in the system trail, and add no row to B’s', async () => {
    const since = await abuse.mark();
    const started = new Date();
    const asks = Array.from({ length: 200 }, (_, i) => ({ key: i % 2 === 0 ? `ahk_${randomBytes(24).toString('hex')}` : KEYS.audit[A], path: i % 4 < 2 ? '' : '/verify' }));
    const answers: Answer[] = [];
    for (let i = 0; i < asks.length; i += 20) {
      answers.push(...(await Promise.all(asks.slice(i, i + 20).map((a) => abuse.auditOf(B, a.key, a.path)))));
    }
    const byStatus = answers.reduce<Record<string, number>>((n, a) => ({ ...n, [`${a.status} ${a.body.code ?? ''}`]: (n[`${a.status} ${a.body.code ?? ''}`] ?? 0) + 1 }), {});
    expect(byStatus).toEqual({ '401 unknown_api_key': 100, '403 tenant_forbidden': 100 });

    // The refusals are recorded — in the system trail, as one row per origin and window with a count.
    await expectEventually(async () => {
      const { rows } = await sys.pg.query<{ actor: string; payload: { count: number; code: string; status: number } }>(
        `SELECT actor, payload FROM auditor.audit_log WHERE tenant_id = '@system' AND event_type = 'access.refused' AND (payload->>'lastAt')::timestamptz >= $1`,
        [started],
      );
      const total = (status: number) => rows.filter((r) => r.payload.status === status).reduce((n, r) => n + Number(r.payload.count), 0);
      const seen = rows.map((r) => `${r.actor} ${r.payload.status} ${r.payload.code} ×${r.payload.count}`);
      expect({ unknown: total(401) >= 100, foreign: total(403) >= 100, byA: seen.some((l) => l.startsWith(`${auditActor(KEYS.audit[A])} 403 `)), seen }).toMatchObject({
        unknown: true,
        foreign: true,
        byA: true,
      });
    }, { timeoutMs: 30_000, intervalMs: 500 });
    const { rows: inB } = await sys.pg.query<{ seq: string; event_type: string; actor: string }>(
      `SELECT seq, event_type, actor FROM auditor.audit_log WHERE tenant_id = $1 AND seq > $2 AND (event_type = 'access.refused' OR actor = $3 OR outcome = 'refused')`,
      [B, since.seq, auditActor(KEYS.audit[A])],
    );
    expect(inB).toEqual([]);

    await abuse.expectTenantUnaffected(since, abuse.crashProbe(nextInstance()));
  });

  it('6: reading a tenant nobody has seen — with the ops key, with A’s key, at the auditor and the decision service — creates nothing', async () => {
    const since = await abuse.mark();
    const unseen = `never-${randomBytes(5).toString('hex')}`;
    const at = new Date();
    expect(await abuse.auditOf(unseen, OPS_KEY)).toMatchObject({ status: 200, body: { items: [], nextCursor: null } });
    expect(await abuse.auditOf(unseen, OPS_KEY, '/verify')).toMatchObject({ status: 200, body: { ok: true, headSeq: 0 } });
    expect(await abuse.auditOf(unseen, OPS_KEY, '/verify?full=true')).toMatchObject({ status: 200, body: { ok: true, headSeq: 0 } });
    for (const path of ['', '/verify']) expect(await abuse.auditOf(unseen, KEYS.audit[A], path)).toMatchObject({ status: 403 });
    expect(await admin('GET', `/v1/admin/tenants/${unseen}`, ADMIN_KEY)).toMatchObject({ status: 404 });
    expect(await admin('POST', `/v1/admin/breaker/tenants/${unseen}:resume`, ADMIN_KEY, { reason: 'probing' })).toMatchObject({ status: 200, body: { open: false, resumed: false } });

    // The ops key's reads of B in the same moments are recorded once their window closes: by
    // then the unseen tenant's would have been too.
    expect((await abuse.auditOf(B, OPS_KEY, '?limit=1')).status).toBe(200);
    await expectEventually(async () => {
      const { rows } = await sys.pg.query<{ n: string }>(
        `SELECT count(*) AS n FROM auditor.audit_log WHERE tenant_id = $1 AND event_type = 'audit.read' AND actor = $2 AND (payload->>'lastAt')::timestamptz >= $3`,
        [B, auditActor(OPS_KEY), at],
      );
      expect(Number(rows[0].n)).toBeGreaterThan(0);
    }, { timeoutMs: 30_000, intervalMs: 500 });
    const counts = await sys.pg.query<Record<string, string>>(
      `SELECT (SELECT count(*) FROM auditor.audit_log WHERE tenant_id = $1) AS audit_rows,
              (SELECT count(*) FROM auditor.audit_log WHERE payload::text LIKE '%' || $1 || '%' AND tenant_id <> '@system') AS mentions,
              (SELECT count(*) FROM auditor.verify_points WHERE tenant_id = $1) AS verify_points,
              (SELECT count(*) FROM decision.tenants WHERE tenant_id = $1) AS tenants,
              (SELECT count(*) FROM decision.tenant_breakers WHERE tenant_id = $1) AS breakers`,
      [unseen],
    );
    expect(counts.rows[0]).toEqual({ audit_rows: '0', mentions: '0', verify_points: '0', tenants: '0', breakers: '0' });

    await abuse.expectTenantUnaffected(since, abuse.crashProbe(nextInstance()));
  });

  it(`7: A announces more new instances than its quota (${MAX_INSTANCES}): the excess is refused over HTTP and on the bus, B’s new instance is tracked and B’s crash detected`, async () => {
    const since = await abuse.mark();
    const heartbeat = (tenantId: string, instance: string) =>
      newEvent('health.heartbeat', { tenantId, producer: `sdk/${tenantId}`, data: { service: 'api', instance, intervalMs: 600_000, sequence: 1 } });
    const answers: { instance: string; answer: Answer }[] = [];
    for (let i = 0; i < MAX_INSTANCES + 10; i++) {
      const instance = `flood-${i}`;
      answers.push({ instance, answer: await abuse.ingest(A, KEYS.ingest[A], heartbeat(A, instance)) });
    }
    const refused = answers.filter((a) => a.answer.status === 422);
    expect(answers.filter((a) => ![202, 422].includes(a.answer.status)).map((a) => `${a.instance}: ${a.answer.status} ${JSON.stringify(a.answer.body)}`)).toEqual([]);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(refused[0].answer.body).toMatchObject({ code: 'instance_quota_exceeded' });
    expect(refused[0].answer.body.message).toContain('DETECTOR_MAX_INSTANCES_PER_TENANT');
    // Once refused, refused from then on: the quota does not reopen for later names.
    const firstRefused = answers.indexOf(refused[0]);
    expect(answers.slice(firstRefused).map((a) => a.answer.status).filter((s) => s !== 422)).toEqual([]);

    // On the bus, as A's producer: dead-lettered `instance_quota`, on the first delivery.
    const onBus = heartbeat(A, 'flood-bus');
    await publishAsA(`health.${A}.api.flood-bus`, JSON.stringify(onBus), deduplicationKey(A, onBus.id));
    await expectEventually(async () => {
      const letters = (await abuse.deadLettersSince(since.deadLetterSeq)).filter((d) => d.payload.includes(onBus.id));
      expect(letters.map((d) => ({ reason: d.reason, deliveries: d.deliveries }))).toEqual([{ reason: 'instance_quota', deliveries: 1 }]);
    }, { timeoutMs: 20_000, intervalMs: 500 });

    // B announces a new instance of its own: accepted and tracked.
    const bNew = heartbeat(B, 'b-new');
    expect(await abuse.ingest(B, KEYS.ingest[B], bNew)).toMatchObject({ status: 202, body: { accepted: 1 } });
    await expectEventually(async () => {
      const { rows } = await sys.pg.query<{ state: string }>(`SELECT state FROM detector.instance_snapshots WHERE tenant_id = $1 AND instance = 'b-new'`, [B]);
      expect(rows).toEqual([{ state: 'alive' }]);
    }, { timeoutMs: 30_000, intervalMs: 500 });
    const { rows } = await sys.pg.query<{ n: string }>(`SELECT count(*) AS n FROM detector.instance_snapshots WHERE tenant_id = $1`, [A]);
    expect(Number(rows[0].n)).toBeLessThanOrEqual(MAX_INSTANCES);
    // Its planned stop ends it cleanly (no hang incident ten minutes from now).
    const stopping = newEvent('health.stopping', { tenantId: B, producer: `sdk/${B}`, data: { service: 'api', instance: 'b-new', reason: 'test done' } });
    expect(await abuse.ingest(B, KEYS.ingest[B], stopping)).toMatchObject({ status: 202 });

    await abuse.expectTenantUnaffected(since, abuse.crashProbe(nextInstance()));
  });

  it('8: A’s approver cannot approve or reject B’s remediation (403, unchanged); a body naming the actor is refused (400); B’s approver settles it as themself', async () => {
    // B's alerts await a human: a playbook that answers an alert with a rollback (approval-gated for SOC 2).
    const current = await admin('GET', `/v1/admin/tenants/${B}`, ADMIN_KEY);
    expect(current.status).toBe(200);
    const document = { ...(current.body as unknown as { document: Record<string, unknown> }).document, playbooks: { alert: { candidates: [{ action: 'rollback' }] } } };
    expect(await admin('POST', '/v1/admin/tenants:apply', ADMIN_KEY, { documents: [document] })).toMatchObject({ status: 200 });

    // People's keys, created at the auditor with the bootstrap ops key; the decision service learns them from the bucket.
    const createKey = async (subject: string, tenant: string): Promise<string> => {
      const created = await http('POST', `${sys.urls.auditor}/v1/api-keys`, OPS_KEY, JSON.stringify({ subject, roles: ['approver'], tenantScope: [tenant] }));
      expect(created.status).toBe(201);
      const key = (created.body as { key?: string }).key!;
      await expectEventually(async () => expect((await admin('GET', '/v1/admin/breaker', key)).status).toBe(200), { timeoutMs: 30_000, intervalMs: 250 });
      return key;
    };
    const aApprover = await createKey('mallory@a.example', A);
    const bApprover = await createKey('bob@b.example', B);

    const since = await abuse.mark();
    const startsAt = new Date(Date.now() - 1_000).toISOString();
    const endsAt = new Date(Date.now() + 60_000).toISOString();
    expect(await abuse.ingest(B, KEYS.ingest[B], alertPayload(B_GATED, 'firing', startsAt), 'alertmanager')).toMatchObject({ status: 202 });
    const awaiting = await expectEventually(() => {
      const found = bus.slice(since.bus).find((e) => e.event.tenantId === B && e.event.type === 'remediation.awaiting_approval' && e.event.data.instance === B_GATED);
      if (!found) throw new Error(`no approval awaited for ${B_GATED}; B's events:\n${show(ofTenant(B, since.bus))}`);
      return found;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    const remediationId = String(awaiting.event.data.remediationId);
    const stateOf = async () => {
      const { rows } = await sys.pg.query<{ status: string; reviewed_by: string | null }>('SELECT status, reviewed_by FROM decision.remediations WHERE remediation_id = $1', [remediationId]);
      const settled = bus.slice(since.bus).filter((e) => e.event.data.remediationId === remediationId && ['remediation.approved', 'remediation.rejected'].includes(e.event.type));
      return { ...rows[0], settled: settled.map((e) => e.event.type) };
    };
    expect(await stateOf()).toEqual({ status: 'awaiting_approval', reviewed_by: null, settled: [] });

    for (const verdict of ['approve', 'reject']) {
      expect(await admin('POST', `/v1/admin/remediations/${remediationId}:${verdict}`, aApprover, { reason: 'mine now' })).toMatchObject({ status: 403, body: { code: 'tenant_forbidden' } });
      expect(await admin('POST', `/v1/admin/remediations/${remediationId}:${verdict}`, bApprover, { reason: 'on behalf', who: 'ceo@b.example' })).toMatchObject({ status: 400 });
    }
    expect(await stateOf()).toEqual({ status: 'awaiting_approval', reviewed_by: null, settled: [] });

    // B's own approver can: the refusals above were the scope and the body, not the remediation's state.
    expect(await admin('POST', `/v1/admin/remediations/${remediationId}:reject`, bApprover, { reason: 'not a rollback' })).toMatchObject({ status: 200, body: { status: 'rejected' } });
    await expectEventually(async () => expect(await stateOf()).toEqual({ status: 'rejected', reviewed_by: 'bob@b.example', settled: ['remediation.rejected'] }), { timeoutMs: 15_000, intervalMs: 200 });
    const rejected = bus.slice(since.bus).find((e) => e.event.type === 'remediation.rejected' && e.event.data.remediationId === remediationId);
    expect(rejected?.event.data.rejectedBy).toBe('bob@b.example');
    expect(await abuse.ingest(B, KEYS.ingest[B], alertPayload(B_GATED, 'resolved', startsAt, endsAt), 'alertmanager')).toMatchObject({ status: 202 });
  });
});
