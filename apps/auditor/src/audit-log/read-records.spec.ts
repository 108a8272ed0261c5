import { nextDueMs, noteRead, SAMPLES_PER_WINDOW, takeClosedWindows, type ReadNote, type ReadWindow } from './read-records';

const limits = { windowMs: 60_000, maxOpenWindows: 3 };
const read = (over: Partial<ReadNote> = {}): ReadNote => ({
  tenantId: 'acme',
  actor: 'ak_1',
  outcome: 'success',
  kind: 'list',
  source: 'GET /v1/tenants/acme/audit from ::1',
  atMs: 1_000,
  returnedItems: 5,
  query: { limit: 5 },
  ...over,
});

describe('read windows', () => {
  it('counts repeated reads by one key of one tenant into one window, by kind', () => {
    const windows = new Map<string, ReadWindow>();
    expect(noteRead(windows, read(), limits)).toBe('opened');
    for (let i = 1; i < 100; i++) expect(noteRead(windows, read({ atMs: 1_000 + i * 100, kind: i % 10 ? 'list' : 'verify', returnedItems: 1 }), limits)).toBe('counted');
    expect(windows.size).toBe(1);
    const [window] = windows.values();
    expect(window).toMatchObject({ count: 100, kinds: { list: 91, verify: 9 }, openedAtMs: 1_000, lastAtMs: 10_900, returnedItems: 5 + 99, queries: [{ limit: 5 }] });
    expect(window.sources).toHaveLength(1);
  });

  it('keeps tenants, keys and outcomes apart', () => {
    const windows = new Map<string, ReadWindow>();
    noteRead(windows, read(), limits);
    noteRead(windows, read({ tenantId: 'globex' }), limits);
    noteRead(windows, read({ outcome: 'refused', kind: null, status: 429 }), limits);
    expect(windows.size).toBe(3);
  });

  it('keeps only the first few distinct queries and sources', () => {
    const windows = new Map<string, ReadWindow>();
    for (let i = 0; i < 50; i++) noteRead(windows, read({ query: { cursor: String(i) }, source: `GET x from 10.0.0.${i}` }), limits);
    const [window] = windows.values();
    expect(window.queries).toHaveLength(SAMPLES_PER_WINDOW);
    expect(window.sources).toHaveLength(SAMPLES_PER_WINDOW);
    expect(window.count).toBe(50);
  });

  it('drops a new window past the cap, and still counts into open ones', () => {
    const windows = new Map<string, ReadWindow>();
    for (const t of ['a', 'b', 'c']) noteRead(windows, read({ tenantId: t }), limits);
    expect(noteRead(windows, read({ tenantId: 'd' }), limits)).toBe('dropped');
    expect(noteRead(windows, read({ tenantId: 'a' }), limits)).toBe('counted');
    expect(windows.size).toBe(3);
  });

  it('closes windows when they have been open for the window, oldest first', () => {
    const windows = new Map<string, ReadWindow>();
    noteRead(windows, read({ tenantId: 'late', atMs: 30_000 }), limits);
    noteRead(windows, read({ tenantId: 'early', atMs: 1_000 }), limits);
    expect(nextDueMs(windows, limits.windowMs)).toBe(61_000);
    expect(takeClosedWindows(windows, 60_999, limits.windowMs)).toEqual([]);
    expect(takeClosedWindows(windows, 61_000, limits.windowMs).map((w) => w.tenantId)).toEqual(['early']);
    expect(nextDueMs(windows, limits.windowMs)).toBe(90_000);
    expect(takeClosedWindows(windows, Infinity, limits.windowMs).map((w) => w.tenantId)).toEqual(['late']);
    expect(nextDueMs(windows, limits.windowMs)).toBeNull();
  });
});
