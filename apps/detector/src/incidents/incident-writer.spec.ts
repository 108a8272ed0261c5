import type { EntityManager } from 'typeorm';
import { IncidentWriter, type IncidentStore } from './incident-writer.js';
import type { OpenIncidentRow } from './incidents.repository.js';
import type { IncidentCommand } from './lifecycle/lifecycle.types.js';

// The database side is IncidentsService, tested against Postgres in its own specs; here only the
// order in which the writer hands commands to it is under test, so a store in memory records it.

function command(type: 'open' | 'update', instance: string): IncidentCommand {
  const target = { tenantId: 'acme', service: 'api', instance, kind: 'heartbeat_missed' as const, ruleKey: 'heartbeat' };
  const fingerprint = `acme.api.${instance}.heartbeat_missed`;
  return type === 'open'
    ? { type, fingerprint, target, severity: 'major', signalAt: 0, evidence: {}, flags: { scope: 'instance', flapping: false } }
    : { type, fingerprint, target, severity: 'critical', evidence: {}, flags: { scope: 'instance', flapping: false } };
}

function rowOf(c: IncidentCommand): OpenIncidentRow {
  return { ...c.target, incidentId: `id-${c.fingerprint}`, fingerprint: c.fingerprint, scope: 'instance', severity: 'major', signalAt: new Date(0), openedAt: new Date(0), flapping: false, traceContext: {} };
}

/** A store whose commits (the end of `together` or of a lone command) wait until released; `written` is the order the writes ran in. */
function gatedStore() {
  const written: string[] = [];
  const gates: (() => void)[] = [];
  const gate = () => new Promise<void>((release) => gates.push(release));
  const manager = {} as EntityManager;
  const store: IncidentStore = {
    open: async (c, _also, m) => {
      if (!m) await gate();
      written.push(`open ${c.target.instance}`);
      return { row: rowOf(c), opened: true, detectionLatencyMs: 0 };
    },
    update: async (row, _c, _also, m) => {
      if (!m) await gate();
      written.push(`update ${row.instance}`);
      return true;
    },
    resolve: async () => true,
    together: async <T>(work: (m: EntityManager) => Promise<T>) => {
      const out = await work(manager);
      await gate();
      return out;
    },
  };
  const releaseAll = () => gates.splice(0).forEach((release) => release());
  return { store, written, releaseAll, pending: () => gates.length };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('IncidentWriter', () => {
  it('commits a firing at once even when one of its fingerprints still has a commit queued', async () => {
    const { store, written, releaseAll, pending } = gatedStore();
    const writer = new IncidentWriter(store, 64);
    writer.adopt([rowOf(command('open', 'group'))]);
    // The previous firing's update of the shared incident, its commit not done yet.
    const earlier = writer.execute([command('update', 'group')]);
    await flush();
    expect(pending()).toBe(1);

    const firing = writer.executeTogether([command('open', 'a'), command('open', 'b'), command('update', 'group')]);
    await flush();
    // a and b went into a transaction of their own; the shared incident's update waits its turn.
    expect(written).toEqual(['open a', 'open b']);
    expect(pending()).toBe(2);
    releaseAll();
    await flush();
    releaseAll();
    await Promise.all([earlier, firing]);
    expect(written).toEqual(['open a', 'open b', 'update group', 'update group']);
  });

  it('keeps one transaction for a firing whose fingerprints are all free', async () => {
    const { store, written, releaseAll, pending } = gatedStore();
    const writer = new IncidentWriter(store, 64);
    const firing = writer.executeTogether([command('open', 'a'), command('open', 'b')]);
    await flush();
    expect(written).toEqual(['open a', 'open b']);
    expect(pending()).toBe(1);
    releaseAll();
    await firing;
  });

  it("runs one fingerprint's commands in order, each after the previous one committed", async () => {
    const { store, written, releaseAll } = gatedStore();
    const writer = new IncidentWriter(store, 64);
    const first = writer.execute([command('open', 'a')]);
    const second = writer.execute([command('update', 'a')]);
    await flush();
    expect(written).toEqual([]);
    releaseAll();
    await first;
    expect(written).toEqual(['open a']);
    await flush();
    releaseAll();
    await second;
    expect(written).toEqual(['open a', 'update a']);
  });
});
