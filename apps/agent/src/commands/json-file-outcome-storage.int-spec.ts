import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { JsonFileOutcomeStorage } from './json-file-outcome-storage.js';
import { OutcomeStore } from './outcome-store.js';

const value = z.object({ ok: z.boolean(), pid: z.number() });

describe('JsonFileOutcomeStorage (real files)', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'autoheal-agent-state-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts empty when there is no file yet, creating the directory on first save', async () => {
    const storage = new JsonFileOutcomeStorage(join(dir, 'nested', 'outcomes.json'), value);
    expect(await storage.load()).toEqual([]);
    await storage.save([{ key: 'r-1', value: { ok: true, pid: 10 } }]);
    expect(await storage.load()).toEqual([{ key: 'r-1', value: { ok: true, pid: 10 } }]);
    // Written atomically: no temporary file is left next to it.
    expect(readdirSync(join(dir, 'nested'))).toEqual(['outcomes.json']);
  });

  it('lets a new store in a new process replay what an old one remembered', async () => {
    const path = join(dir, 'outcomes.json');
    const first = await OutcomeStore.open(new JsonFileOutcomeStorage(path, value), { keep: (v) => v.ok });
    await first.once('r-1', () => Promise.resolve({ ok: true, pid: 10 }));
    await first.once('r-2', () => Promise.resolve({ ok: false, pid: 0 }));

    const second = await OutcomeStore.open(new JsonFileOutcomeStorage(path, value), { keep: (v) => v.ok });
    let ran = false;
    expect(
      await second.once('r-1', () => {
        ran = true;
        return Promise.resolve({ ok: true, pid: 11 });
      }),
    ).toEqual({ value: { ok: true, pid: 10 }, replayed: true });
    expect(ran).toBe(false);
    expect(second.get('r-2')).toBeUndefined();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, outcomes: [{ key: 'r-1', value: { ok: true, pid: 10 } }] });
  });

  it.each([
    ['not JSON', '{"version": 1, "outc'],
    ['the wrong shape', JSON.stringify({ version: 1, outcomes: [{ key: 'r-1', value: { ok: 'yes' } }] })],
    ['an unknown version', JSON.stringify({ version: 2, outcomes: [] })],
  ])('moves a file with %s aside and starts empty, saying where it went', async (_name, content) => {
    const path = join(dir, 'outcomes.json');
    writeFileSync(path, content);
    const reports: { movedTo: string; reason: string }[] = [];
    const storage = new JsonFileOutcomeStorage(path, value, (movedTo, reason) => reports.push({ movedTo, reason }));
    expect(await storage.load()).toEqual([]);
    expect(reports).toHaveLength(1);
    expect(readFileSync(reports[0].movedTo, 'utf8')).toBe(content);
    expect(readdirSync(dir)).toEqual([reports[0].movedTo.slice(dir.length + 1)]);
  });
});
