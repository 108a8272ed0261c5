/**
 * What the tenant-abuse suites share: requests as a tenant makes them (HTTP ingest, audit reads),
 * B's probes (a crash, an Alertmanager alert) and the verdict after each attack,
 * `expectTenantUnaffected(mark, probe)`: B's signal opened its incident, the decision service
 * planned the restart B's profile allows, the executor carried it out (the process has a new
 * pid), the incident resolved, and B's audit trail holds that flow, still verifies, and gained
 * nothing that A caused.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import type { Subscription } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { newEvent, newEventId, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { expectEventually } from '@autoheal/testing';
import { OPS_KEY, type SecuritySystem } from './security-system.js';

export const FLOW: string[] = ['incident.opened', 'remediation.planned', 'remediation.started', 'remediation.succeeded', 'incident.resolved'];

/** The audit actor of an API key: `ak_` and the first 16 hex digits of its sha256 (apps/auditor README). */
export const auditActor = (key: string) => `ak_${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16)}`;

export interface Answer {
  status: number;
  headers: Headers;
  body: { code?: string; message?: string; accepted?: number; duplicates?: number; ids?: string[]; ok?: boolean; firstBreak?: unknown; headSeq?: number };
}

export interface SeenEvent {
  subject: string;
  event: Envelope & { data: Record<string, unknown> };
}

/** Where B stood before an attack: its chain head, what the bus had carried, the dead-letter stream's last sequence. */
export interface Mark {
  seq: number;
  bus: number;
  deadLetterSeq: number;
}

/** B's own failure, sent after the attack; `opened` picks its incident among B's. */
export interface Probe {
  instance: string;
  fire(): Promise<void>;
  opened(data: Record<string, unknown>): boolean;
  /** What ends the incident once the restart succeeded, when the restart alone does not. */
  recover?(): Promise<void>;
}

/** The victim B, the attacker A, and the bootstrap keys each holds (ingest and audit). */
export interface Parties {
  victim: string;
  attacker: string;
  keys: { ingest: Record<string, string>; audit: Record<string, string> };
}

/**
 * One request over node:http. A refused body is answered before it is read and the connection
 * closed behind the answer: the answer is what counts, a write error after it is not a failure.
 */
export function http(method: 'GET' | 'POST', url: string, key: string | undefined, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    let answered = false;
    const req = request(url, { method, headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Answer['body'] = {};
        try {
          parsed = text.length > 0 ? (JSON.parse(text) as Answer['body']) : {};
        } catch {
          parsed = { message: text };
        }
        const h = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(', ') : value);
        resolve({ status: res.statusCode ?? 0, headers: h, body: parsed });
      });
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.end(body);
  });
}

export function exitedEvent(tenantId: string, instance: string, exitCode: number, id = newEventId()) {
  return { ...newEvent('health.exited', { tenantId, producer: `supervisor/${tenantId}`, data: { service: 'api', instance, exitCode, signal: null, observedBy: 'agent' } }), id };
}

export function alertPayload(instance: string, status: 'firing' | 'resolved', startsAt: string, endsAt?: string) {
  return {
    version: '4',
    status,
    receiver: 'team',
    alerts: [{ status, labels: { alertname: 'ApiDown', service: 'api', instance, severity: 'critical' }, annotations: {}, startsAt, ...(endsAt ? { endsAt } : {}), fingerprint: `fp-${instance}` }],
  };
}

/** The tenant-abuse helpers bound to one running system and its two tenants. */
export interface TenantAbuse {
  /** Every incident/remediation/compliance/security event the bus carried since the start, in order. */
  bus: SeenEvent[];
  /** Every incident a probe of B opened: B's own rows refer to them. */
  probeIncidents: Set<string>;
  ingest(tenant: string, key: string | undefined, body: unknown, route?: 'health-events' | 'alertmanager'): Promise<Answer>;
  /** The attacker's requests that must go through: a 429 left by an earlier flood is waited out as its Retry-After says. */
  ingestAsAttacker(body: unknown, route?: 'health-events' | 'alertmanager'): Promise<Answer>;
  auditOf(tenant: string, key: string, query?: string): Promise<Answer>;
  mark(): Promise<Mark>;
  /**
   * B's supervisor sees `instance` die and reports it over B's HTTP ingest, with the event id B
   * chose (the dedup attack picks it in advance). The process is stopped first (SIGSTOP), so it
   * stays silent until the executor's restart replaces it; the exit code marks this report.
   */
  crashProbe(instance: string, eventId?: string): Probe;
  /** B's Alertmanager fires for `instance`, and resolves once the restart is done. */
  alertProbe(instance: string, startsAt: string, endsAt: string): Probe;
  deadLettersSince(seq: number): Promise<DeadLetterRecord[]>;
  /**
   * The shared verdict after an attack: B's probe is detected, decided, remediated and recorded
   * as if A did not exist, and nothing A did since `since` shows up anywhere of B's.
   */
  expectTenantUnaffected(since: Mark, probe: Probe): Promise<void>;
  /** Stops watching the bus. */
  close(): void;
}

export function tenantAbuse(sys: SecuritySystem, parties: Parties): TenantAbuse {
  const { victim: B, attacker: A, keys: KEYS } = parties;
  const bus: SeenEvent[] = [];
  const probeIncidents = new Set<string>();
  const subs: Subscription[] = ['incident.>', 'remediation.>', 'compliance.>', 'security.>'].map((subject) =>
    sys.nc.subscribe(subject, { callback: (_e, msg) => void bus.push({ subject: msg.subject, event: msg.json() }) }),
  );

  const ingest = (tenant: string, key: string | undefined, body: unknown, route: 'health-events' | 'alertmanager' = 'health-events') =>
    http('POST', `${sys.urls.detector}/v1/tenants/${tenant}/${route}`, key, typeof body === 'string' ? body : JSON.stringify(body));

  const ingestAsAttacker = (body: unknown, route: 'health-events' | 'alertmanager' = 'health-events'): Promise<Answer> =>
    expectEventually(async () => {
      const answer = await ingest(A, KEYS.ingest[A], body, route);
      expect(answer).toMatchObject({ status: 202 });
      return answer;
    }, { timeoutMs: 30_000, intervalMs: 500 });

  const auditOf = (tenant: string, key: string, query = '') => http('GET', `${sys.urls.auditor}/v1/tenants/${tenant}/audit${query}`, key);

  async function mark(): Promise<Mark> {
    const { rows } = await sys.pg.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM auditor.audit_log WHERE tenant_id = $1', [B]);
    const jsm = await jetstreamManager(sys.nc);
    const { state } = await jsm.streams.info('DEAD_LETTER');
    return { seq: Number(rows[0].seq ?? 0), bus: bus.length, deadLetterSeq: state.last_seq };
  }

  function crashProbe(instance: string, eventId = newEventId()): Probe {
    const exitCode = 100 + Math.floor(Math.random() * 100);
    return {
      instance,
      async fire() {
        const reply = await sys.nc.request('agent.chaos', JSON.stringify({ action: 'hang', tenantId: B, service: 'api', instance }), { timeout: 5_000 });
        expect(reply.json<{ ok: boolean }>()).toMatchObject({ ok: true });
        const answer = await ingest(B, KEYS.ingest[B], exitedEvent(B, instance, exitCode, eventId));
        expect(answer).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, ids: [eventId] } });
      },
      opened: (data) => data.instance === instance && data.kind === 'crashed' && (data.evidence as { exitCode?: number }).exitCode === exitCode,
    };
  }

  function alertProbe(instance: string, startsAt: string, endsAt: string): Probe {
    const send = async (status: 'firing' | 'resolved') => {
      const answer = await ingest(B, KEYS.ingest[B], alertPayload(instance, status, startsAt, status === 'resolved' ? endsAt : undefined), 'alertmanager');
      expect(answer).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0 } });
    };
    return {
      instance,
      fire: () => send('firing'),
      opened: (data) => data.instance === instance && data.kind === 'alert',
      recover: () => send('resolved'),
    };
  }

  const ofB = (e: SeenEvent) => e.event.tenantId === B;
  const show = (events: SeenEvent[]) => events.map((e) => `${e.event.type} ${typeof e.event.data.instance === 'string' ? e.event.data.instance : ''} ${e.event.correlationId ?? ''}`).join('\n');

  async function deadLettersSince(seq: number): Promise<DeadLetterRecord[]> {
    const jsm = await jetstreamManager(sys.nc);
    const { state } = await jsm.streams.info('DEAD_LETTER');
    const out: DeadLetterRecord[] = [];
    for (let s = seq + 1; s <= state.last_seq; s++) {
      const m = await jsm.streams.getMessage('DEAD_LETTER', { seq: s }).catch(() => null);
      if (m) out.push(m.json<DeadLetterRecord>());
    }
    return out;
  }

  async function expectTenantUnaffected(since: Mark, probe: Probe): Promise<void> {
    const pidBefore = await sys.pidOf(probe.instance);
    expect(pidBefore).toBeDefined();
    await probe.fire();

    // Detection: the probe's incident opens.
    const opened = await expectEventually(() => {
      const found = bus.slice(since.bus).find((e) => ofB(e) && e.event.type === 'incident.opened' && probe.opened(e.event.data));
      if (!found) throw new Error(`B's incident for ${probe.instance} did not open; B's events since the attack:\n${show(bus.slice(since.bus).filter(ofB))}`);
      return found;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    const incidentId = String(opened.event.data.incidentId);
    probeIncidents.add(incidentId);
    const flowOf = () => bus.slice(since.bus).filter((e) => ofB(e) && e.event.correlationId === incidentId);

    // Decision and remediation: a restart planned, carried out, succeeded.
    await expectEventually(() => {
      const types: string[] = flowOf().map((e) => e.event.type);
      if (!['remediation.planned', 'remediation.started', 'remediation.succeeded'].every((t) => types.includes(t))) {
        throw new Error(`B's remediation of ${incidentId} did not succeed; its events: ${types.join(', ')}`);
      }
    }, { timeoutMs: 45_000, intervalMs: 100 });
    expect(flowOf().find((e) => e.event.type === 'remediation.planned')?.event.data).toMatchObject({ action: 'restart', instance: probe.instance });
    await probe.recover?.();
    await expectEventually(() => {
      const types: string[] = flowOf().map((e) => e.event.type);
      if (!types.includes('incident.resolved')) throw new Error(`B's incident ${incidentId} did not resolve; its events: ${types.join(', ')}`);
    }, { timeoutMs: 30_000, intervalMs: 100 });
    await expectEventually(async () => {
      const now = (await sys.agentStatus()).find((i) => i.instance === probe.instance);
      expect(now).toMatchObject({ state: 'running' });
      expect(now?.pid).not.toBe(pidBefore);
    }, { timeoutMs: 10_000, intervalMs: 200 });

    // The audit trail, as B reads it with its own key: the whole flow, in a chain that verifies.
    await expectEventually(async () => {
      const page = await auditOf(B, KEYS.audit[B], `?correlationId=${incidentId}&limit=100`);
      expect(page.status).toBe(200);
      expect((page.body as { items: { eventType: string }[] }).items.map((r) => r.eventType)).toEqual(expect.arrayContaining(FLOW));
    }, { timeoutMs: 20_000, intervalMs: 1_000 });
    const verify = await auditOf(B, KEYS.audit[B], '/verify');
    expect(verify).toMatchObject({ status: 200, body: { ok: true, firstBreak: null } });

    // Nothing else: every row B's chain gained since the mark is B's own incidents' or B's own
    // reads (B's key, the operator's) — no refusal, breaker or row about A. B's incidents that
    // opened before the mark (a metric rule firing on a loaded machine at boot, say) predate the
    // attack: their later steps are B's own too.
    const earlier = new Set(bus.slice(0, since.bus).filter((e) => ofB(e) && e.event.type === 'incident.opened').map((e) => String(e.event.data.incidentId)));
    const ownIncident = (correlationId: string | null) => correlationId !== null && (probeIncidents.has(correlationId) || earlier.has(correlationId));
    // The arms the decision service plans and renews for B's services before any fault (arm_switchover, a flow of their own) are B's own too.
    const ownArm = (event: unknown) => (event as { data?: { action?: unknown } } | null)?.data?.action === 'arm_switchover';
    const readers = new Set([auditActor(KEYS.audit[B]), auditActor(OPS_KEY)]);
    const { rows } = await sys.pg.query<{ seq: string; event_type: string; actor: string; correlation_id: string | null; payload: unknown }>(
      'SELECT seq, event_type, actor, correlation_id, payload FROM auditor.audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq',
      [B, since.seq],
    );
    const foreign = rows.filter(
      (r) => !ownIncident(r.correlation_id) && !ownArm(r.payload) && !(['audit.read', 'audit.verify'].includes(r.event_type) && readers.has(r.actor)),
    );
    expect(foreign.map((r) => ({ seq: r.seq, type: r.event_type, actor: r.actor, correlationId: r.correlation_id }))).toEqual([]);
    expect(rows.filter((r) => JSON.stringify(r.payload).includes(A)).map((r) => ({ seq: r.seq, type: r.event_type, actor: r.actor, payload: r.payload }))).toEqual([]);

    // On the bus: B's events since the mark are the probe's flow only (no second incident, no breaker).
    const others = bus.slice(since.bus).filter((e) => ofB(e) && !ownIncident(e.event.correlationId ?? null) && !ownArm(e.event));
    expect(show(others)).toBe('');

    // Dead letters: none about B (A's refused requests are A's).
    const letters = await deadLettersSince(since.deadLetterSeq);
    expect(letters.filter((d) => (d.headers['Autoheal-Tenant'] ?? []).includes(B) || d.subject.includes(`.${B}.`) || d.subject.includes(`/tenants/${B}/`))).toEqual([]);
  }

  return {
    bus,
    probeIncidents,
    ingest,
    ingestAsAttacker,
    auditOf,
    mark,
    crashProbe,
    alertProbe,
    deadLettersSince,
    expectTenantUnaffected,
    close: () => subs.forEach((s) => s.unsubscribe()),
  };
}
