import type { ChainedRow } from '@autoheal/evidence';

/**
 * What the forwarder decides, as plain functions over data: which rows go in the next session,
 * where each tenant's cursor moves once the session is confirmed, how long to wait after a
 * failure, and the lag the gauges show.
 */

/** The last seq forwarded and confirmed, per tenant (0: nothing yet). */
export type Cursors = ReadonlyMap<string, number>;

/**
 * One session's rows: each tenant's pending rows in seq order (a prefix of each list stays a
 * prefix), interleaved by the time they were recorded, at most `limit` in all. A tenant's rows
 * never overtake each other, whatever the clock says.
 */
export function mergeBatch(perTenant: readonly (readonly ChainedRow[])[], limit: number): ChainedRow[] {
  const heads = perTenant.map(() => 0);
  const out: ChainedRow[] = [];
  while (out.length < limit) {
    let best = -1;
    for (let i = 0; i < perTenant.length; i++) {
      const row = perTenant[i][heads[i]];
      if (row === undefined) continue;
      if (best === -1) {
        best = i;
        continue;
      }
      const current = perTenant[best][heads[best]];
      if (row.recordedAt < current.recordedAt || (row.recordedAt === current.recordedAt && row.tenantId < current.tenantId)) best = i;
    }
    if (best === -1) break;
    out.push(perTenant[best][heads[best]]);
    heads[best]++;
  }
  return out;
}

/** Each tenant's cursor after `rows` were delivered: the highest seq of the tenant among them. */
export function advancedCursors(rows: readonly ChainedRow[]): Map<string, number> {
  const next = new Map<string, number>();
  for (const row of rows) next.set(row.tenantId, Math.max(next.get(row.tenantId) ?? 0, row.seq));
  return next;
}

/**
 * Refuses a batch that would skip a row: each tenant's rows must follow its cursor without a gap.
 * The chain has no gaps (seq counts from 1 per tenant), so a gap here means rows were read wrongly
 * or removed; forwarding past it would lose them silently.
 */
export function checkContiguous(rows: readonly ChainedRow[], cursors: Cursors): string | null {
  const expected = new Map<string, number>();
  for (const row of rows) {
    const next = (expected.get(row.tenantId) ?? cursors.get(row.tenantId) ?? 0) + 1;
    if (row.seq !== next) return `tenant ${row.tenantId}: expected seq ${next}, read ${row.seq}`;
    expected.set(row.tenantId, row.seq);
  }
  return null;
}

/** Delay before the next try after `failures` failures in a row: doubling from `baseMs`, at most `maxMs`, with up to 20 % jitter (`random` in [0, 1)). */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, failures - 1)));
  return Math.round(exp * (1 - 0.2 * random));
}

/** One tenant's position: its head and cursor, and when its oldest unforwarded row was recorded. */
export interface TenantPosition {
  tenantId: string;
  headSeq: number;
  cursorSeq: number;
  oldestPendingAt: Date | null;
}

/** Rows not yet forwarded (all tenants) and the age of the oldest of them, in seconds (0 when caught up). */
export function siemLag(positions: readonly TenantPosition[], now: Date): { rows: number; seconds: number } {
  let rows = 0;
  let oldest: number | null = null;
  for (const p of positions) {
    const behind = Math.max(0, p.headSeq - p.cursorSeq);
    rows += behind;
    if (behind > 0 && p.oldestPendingAt !== null) oldest = oldest === null ? p.oldestPendingAt.getTime() : Math.min(oldest, p.oldestPendingAt.getTime());
  }
  return { rows, seconds: oldest === null ? 0 : Math.max(0, (now.getTime() - oldest) / 1000) };
}
