// A tenant's runbook service over real HTTP, as the executor README asks runbook authors to
// write one: it verifies the executor's Standard Webhooks signature with the official library,
// carries each remediation out once per webhook-id (asked again, it replays the first outcome),
// records what it did, and answers with a signed outcome — at once, or 202 and a signed
// callback. Excluded from the build.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { RemediationAction } from '@autoheal/contracts';
import type { DriverEffect } from '../drivers/remediation-driver.js';
import { runbookRequest, type RunbookRequest } from '../drivers/runbook/runbook.protocol.js';

/**
 * How the stand-in answers for a target. `sync`: 200 with the outcome. `callback`: 202, then a
 * signed callback at once. `held_callback`: 202, and the callback only when the test calls
 * `releaseCallback` (a runbook that takes its time; never released, it never calls back).
 */
export type AnswerMode = 'sync' | 'callback' | 'held_callback';

export interface StandInTargetOptions {
  mode?: AnswerMode;
}

/** One request as it arrived, and what the stand-in made of it. */
export interface ReceivedRequest {
  webhookId: string | undefined;
  verdict: 'acted' | 'replayed' | 'unknown_target' | 'refused_signature' | 'refused_body' | 'held_silent';
  status: number | null;
}

type Outcome = { status: 'done'; effects: DriverEffect[] };

const key = (tenantId: string, service: string, instance: string) => `${tenantId}/${service}/${instance}`;

export class RunbookServiceStandIn {
  /** Every request, in arrival order. */
  readonly requests: ReceivedRequest[] = [];
  /** Status the executor answered each callback with, by remediation id. */
  readonly callbackStatuses = new Map<string, number[]>();
  private readonly webhook: Webhook;
  private readonly targets = new Map<string, AnswerMode>();
  private readonly silenced = new Set<string>();
  private readonly hanging = new Set<ServerResponse>();
  /** The first outcome per webhook-id: the dedupe the spec asks receivers for. */
  private readonly outcomes = new Map<string, Outcome>();
  private readonly held = new Map<string, () => Promise<void>>();
  private readonly server: Server;
  private baseUrl = '';

  constructor(private readonly secret: string) {
    this.webhook = new Webhook(secret);
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The runbook's endpoint, as a target's `runtime.url` names it. */
  get url(): string {
    return `${this.baseUrl}/hooks/autoheal`;
  }

  addTarget(tenantId: string, service: string, instance: string, { mode = 'sync' }: StandInTargetOptions = {}): void {
    this.targets.set(key(tenantId, service, instance), mode);
  }

  /** The target's requests hang unanswered (before anything is done) until the returned function is called. */
  silence(tenantId: string, service: string, instance: string): () => void {
    const k = key(tenantId, service, instance);
    this.silenced.add(k);
    return () => {
      this.silenced.delete(k);
    };
  }

  /** What the stand-in did for a remediation, in order; [] when nothing. */
  observedEffects(remediationId: string): DriverEffect[] {
    return this.outcomes.get(remediationId)?.effects ?? [];
  }

  requestsFor(remediationId: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.webhookId === remediationId);
  }

  /** Whether a held callback for the remediation waits for `releaseCallback`. */
  holdsCallback(remediationId: string): boolean {
    return this.held.has(remediationId);
  }

  /** Sends the held callback now. */
  async releaseCallback(remediationId: string): Promise<void> {
    const send = this.held.get(remediationId);
    if (!send) throw new Error(`no callback held for ${remediationId}`);
    this.held.delete(remediationId);
    await send();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readAll(req);
    const webhookId = header(req, 'webhook-id');
    const record = (verdict: ReceivedRequest['verdict'], status: number | null) => this.requests.push({ webhookId, verdict, status });
    try {
      // As the spec asks: verify before reading anything from the body.
      this.webhook.verify(raw, { 'webhook-id': webhookId ?? '', 'webhook-timestamp': header(req, 'webhook-timestamp') ?? '', 'webhook-signature': header(req, 'webhook-signature') ?? '' });
    } catch (error) {
      record('refused_signature', 401);
      return this.answer(res, webhookId ?? 'unknown', 401, { status: 'failed', code: 'invalid_signature', message: (error as Error).message });
    }
    const parsed = runbookRequest.safeParse(parseJson(raw));
    if (!parsed.success || parsed.data.remediationId !== webhookId) {
      record('refused_body', 400);
      return this.answer(res, webhookId ?? 'unknown', 400, { status: 'failed', code: 'invalid_request', message: parsed.success ? 'webhook-id is not the remediation id' : parsed.error.message });
    }
    const request = parsed.data;
    const k = key(request.tenantId, request.service, request.instance);
    if (this.silenced.has(k)) {
      record('held_silent', null);
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    const mode = this.targets.get(k);
    if (!mode) {
      record('unknown_target', 404);
      return this.answer(res, request.remediationId, 404, { status: 'failed', code: 'unknown_target', message: `no ${k} here` });
    }
    const first = this.outcomes.get(request.remediationId);
    const outcome = first ?? { status: 'done' as const, effects: effectsOf(request) };
    if (!first) this.outcomes.set(request.remediationId, outcome);
    const said = { ...outcome, replayed: first !== undefined };
    if (mode === 'sync') {
      record(first ? 'replayed' : 'acted', 200);
      return this.answer(res, request.remediationId, 200, said);
    }
    record(first ? 'replayed' : 'acted', 202);
    this.answer(res, request.remediationId, 202, { status: 'accepted' });
    const send = () => this.callBack(request, said);
    if (mode === 'held_callback') this.held.set(request.remediationId, send);
    else await send();
  }

  private answer(res: ServerResponse, id: string, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...this.signed(id, text) });
    res.end(text);
  }

  private async callBack(request: RunbookRequest, body: unknown): Promise<void> {
    const text = JSON.stringify(body);
    const response = await fetch(request.callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...this.signed(request.remediationId, text) }, body: text });
    await response.arrayBuffer();
    this.callbackStatuses.set(request.remediationId, [...(this.callbackStatuses.get(request.remediationId) ?? []), response.status]);
  }

  private signed(id: string, body: string): Record<string, string> {
    const now = new Date();
    return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': this.webhook.sign(id, now, body) };
  }
}

/** What this runbook does for each action, in the drivers' vocabulary. */
function effectsOf({ action, service, instance, parameters }: RunbookRequest): DriverEffect[] {
  const byAction: Record<RemediationAction, DriverEffect[]> = {
    restart: [{ verb: 'restarted', object: instance }],
    replace: [
      { verb: 'started', object: `${instance}-replacement` },
      { verb: 'stopped', object: instance },
    ],
    scale_out: [{ verb: 'scaled', object: service, detail: { maxInstances: parameters.maxInstances } }],
    failover: [
      { verb: 'promoted', object: `${service}@${parameters.toRegion}` },
      { verb: 'routed', object: service, detail: { toRegion: parameters.toRegion } },
    ],
    rollback: [{ verb: 'rolled_back', object: service, detail: { toRelease: parameters.toRelease } }],
    throttle: [{ verb: 'throttled', object: instance, detail: { limitPerSecond: parameters.limitPerSecond, ttlMs: parameters.ttlMs } }],
    scale_in: [{ verb: 'scaled', object: service, detail: { minInstances: parameters.minInstances } }],
    // Not a runbook action (RUNTIME_ACTIONS): the driver refuses it before the runbook is called.
    arm_switchover: [],
  };
  return byAction[action];
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
