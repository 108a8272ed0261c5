import type { ChainedRow } from '@autoheal/evidence';
import { advancedCursors, backoffMs, checkContiguous, mergeBatch, siemLag } from './siem-batch';

function r(tenantId: string, seq: number, recordedAt: string): ChainedRow {
  return { tenantId, seq, recordedAt } as ChainedRow;
}

describe('mergeBatch', () => {
  it('interleaves tenants by recorded time and keeps each tenant in seq order, even when its clock went back', () => {
    const acme = [r('acme', 1, '2026-01-01T00:00:03Z'), r('acme', 2, '2026-01-01T00:00:01Z'), r('acme', 3, '2026-01-01T00:00:05Z')];
    const globex = [r('globex', 7, '2026-01-01T00:00:02Z'), r('globex', 8, '2026-01-01T00:00:04Z')];
    const out = mergeBatch([acme, globex], 10).map((x) => `${x.tenantId}:${x.seq}`);
    expect(out).toEqual(['globex:7', 'acme:1', 'acme:2', 'globex:8', 'acme:3']);
  });

  it('stops at the limit with a prefix of each tenant', () => {
    const acme = [1, 2, 3].map((s) => r('acme', s, `2026-01-01T00:00:0${s}Z`));
    const globex = [1, 2, 3].map((s) => r('globex', s, `2026-01-01T00:00:0${s}Z`));
    const out = mergeBatch([acme, globex], 3);
    expect(out.map((x) => `${x.tenantId}:${x.seq}`)).toEqual(['acme:1', 'globex:1', 'acme:2']);
    expect([...advancedCursors(out)]).toEqual([
      ['acme', 2],
      ['globex', 1],
    ]);
    expect(mergeBatch([], 5)).toEqual([]);
  });
});

describe('checkContiguous', () => {
  it('accepts rows that follow each cursor and names the first gap', () => {
    const cursors = new Map([['acme', 4]]);
    expect(checkContiguous([r('acme', 5, ''), r('globex', 1, ''), r('acme', 6, '')], cursors)).toBeNull();
    expect(checkContiguous([r('acme', 6, '')], cursors)).toBe('tenant acme: expected seq 5, read 6');
    expect(checkContiguous([r('globex', 1, ''), r('globex', 3, '')], cursors)).toBe('tenant globex: expected seq 2, read 3');
  });
});

describe('backoffMs', () => {
  it('doubles from the base up to the ceiling, less up to 20 % jitter', () => {
    expect([1, 2, 3, 4, 10, 100].map((n) => backoffMs(n, 500, 30_000, 0))).toEqual([500, 1000, 2000, 4000, 30_000, 30_000]);
    expect(backoffMs(1, 1000, 30_000, 0.999)).toBe(800);
  });
});

describe('siemLag', () => {
  it('sums the rows behind and ages the oldest unforwarded row', () => {
    const now = new Date('2026-01-01T00:01:00Z');
    expect(
      siemLag(
        [
          { tenantId: 'acme', headSeq: 10, cursorSeq: 4, oldestPendingAt: new Date('2026-01-01T00:00:30Z') },
          { tenantId: 'globex', headSeq: 3, cursorSeq: 0, oldestPendingAt: new Date('2026-01-01T00:00:45Z') },
          { tenantId: 'initech', headSeq: 5, cursorSeq: 5, oldestPendingAt: null },
        ],
        now,
      ),
    ).toEqual({ rows: 9, seconds: 30 });
    expect(siemLag([{ tenantId: 'acme', headSeq: 5, cursorSeq: 5, oldestPendingAt: null }], now)).toEqual({ rows: 0, seconds: 0 });
  });
});
