import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from '../session/session-store.js';
import { incidentChanges, snapshotOf, type FeedIncident } from './incident-changes.js';

export interface FeedOptions {
  auditorUrl: string;
  pollMs: number;
  /** Incidents per tenant per poll: the newest; an older one changing is seen on its own page. */
  pageSize?: number;
}

type IncidentItem = Omit<FeedIncident, 'tenantId'>;

/** A tenant's newest incidents, read with the person's credential (the auditor enforces the scope). */
async function pollTenant(options: FeedOptions, credential: string, tenantId: string): Promise<FeedIncident[]> {
  const url = `${options.auditorUrl}/v1/tenants/${encodeURIComponent(tenantId)}/incidents?limit=${options.pageSize ?? 25}`;
  const answer = await fetch(url, { headers: { authorization: `Bearer ${credential}`, accept: 'application/json' }, signal: AbortSignal.timeout(15_000) });
  if (!answer.ok) throw new Error(`${tenantId}: the auditor answered ${answer.status}${answer.status === 429 ? ' (read budget spent; retrying)' : ''}`);
  const page = (await answer.json()) as { items: IncidentItem[] };
  return page.items.map((item) => ({ ...item, tenantId }));
}

/**
 * Server-sent events: `snapshot` once (the newest incidents of every tenant in the session), then
 * `incident` for each one that opens or changes, found by polling the auditor's incident API as
 * the person. Polling keeps tenant scoping where it is enforced (the auditor) and needs no bus
 * identity for the console; a change shows within one poll interval. `problem` says what failed
 * without ending the stream.
 */
export function serveFeed(req: IncomingMessage, res: ServerResponse, session: Session, options: FeedOptions): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write('retry: 3000\n\n');
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const known = new Map<string, string>();
  let first = true;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const poll = async () => {
    const results = await Promise.allSettled(session.tenants.map((t) => pollTenant(options, session.credential, t.tenantId)));
    if (closed) return;
    const polled = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    const problems = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message ?? r.reason)] : []));
    if (problems.length > 0) send('problem', { messages: problems });
    if (first) {
      send('snapshot', { items: snapshotOf(known, polled) });
      first = false;
    } else {
      for (const change of incidentChanges(known, polled)) send('incident', change);
    }
  };
  const loop = () => {
    poll()
      .catch((error: unknown) => closed || send('problem', { messages: [String((error as Error).message ?? error)] }))
      .finally(() => {
        if (!closed) timer = setTimeout(loop, options.pollMs);
      });
  };
  req.on('close', () => {
    closed = true;
    clearTimeout(timer);
  });
  loop();
}
