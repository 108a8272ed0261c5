import type { EntityManager } from 'typeorm';
import { IncidentWriter, inWaves, type IncidentStore, type RecordCause } from './incident-writer.js';
import type { OpenIncidentRow } from './incidents.repository.js';
import type { IncidentCommand } from './lifecycle/lifecycle.types.js';

// The database side is IncidentsService, tested against Postgres in its own specs; here only the
// order in which the writer hands commands to it is under test, so a store in memory records it.

function command(type: IncidentCommand['type'], instance: string): IncidentCommand {
  const target = { tenantId: 'acme', service: 'api', instance, kind: 'heartbeat_missed' as const, ruleKey: 'heartbeat' };
  const fingerprint = `acme.api.${instance}.heartbeat_missed`;
  if (type === 'resolve') return { type, fingerprint, target, reason: 'recovered', at: 0 };
  return type === 'open'
    ? { type, fingerprint, target, severity: 'major', signalAt: 0, evidence: {}, flags: { scope: 'instance', flapping: false } }
    : { type, fingerprint, target, severity: 'critical', evidence: {}, flags: { scope: 'instance', flapping: false } };
}

function rowOf(c: IncidentCommand): OpenIncidentRow {
  return { ...c.target, incidentId: `id-${c.fingerprint}`, fingerprint: c.fingerprint, scope: 'instance', severity: 'major', signalAt: new Date(0), openedAt: new Date(0), flapping: false, traceContext: {} };
}

/**
 * A store whose commits (the end of `together`) wait until released; `written` is the order the
 * writes ran in, one entry per statement (`open a+b`: one statement opened a and b).
 */
function gatedStore() {
  const written: string[] = [];
  const gates: (() => void)[] = [];
  const gate = () => new Promise<void>((release) => gates.push(release));
  const manager = {} as EntityManager;
  const store: IncidentStore = {
    openAll: async (commands) => {
      written.push(`open ${commands.map((c) => c.target.instance).join('+')}`);
      return commands.map((c) => ({ row: rowOf(c), opened: true, detectionLatencyMs: 0 }));
    },
    updateAll: async (items) => {
      written.push(`update ${items.map((i) => i.incident.instance).join('+')}`);
      return items.map(() => true);
    },
    resolveAll: async (items) => {
      written.push(`resolve ${items.map((i) => i.incident.instance).join('+')}`);
      return items.map(() => true);
    },
    together: async <T>(work: (m: EntityManager) => Promise<T>) => {
      const out = await work(manager);
      await gate();
      return out;
    },
  };
  const recordCause: RecordCause = async (_m, cause) => void written.push(`cause ${cause.partition}/${cause.seq}`);
  const releaseAll = () => gates.splice(0).forEach((release) => release());
  /** Lets the `index`-th commit still waiting (in the order they began) finish. */
  const release = (index: number) => gates.splice(index, 1)[0]();
  return { store, recordCause, written, releaseAll, release, pending: () => gates.length };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('inWaves', () => {
  it("puts each fingerprint's k-th command in wave k, keeping the order within a wave", () => {
    const commands = [command('open', 'a'), command('update', 'a'), command('open', 'b'), command('resolve', 'a'), command('update', 'b'), command('open', 'c')];
    const waves = inWaves(commands).map((wave) => wave.map((c) => `${c.type} ${c.target.instance}`));
    expect(waves).toEqual([['open a', 'open b', 'open c'], ['update a', 'update b'], ['resolve a']]);
  });

  it('is one wave when every fingerprint has one command, and none for no commands', () => {
    expect(inWaves([command('open', 'a'), command('open', 'b')])).toHaveLength(1);
    expect(inWaves([])).toEqual([]);
  });
});

describe('IncidentWriter', () => {
  it('commits a firing at once even when one of its fingerprints still has a commit queued', async () => {
    const { store, recordCause, written, releaseAll, pending } = gatedStore();
    const writer = new IncidentWriter(store, recordCause);
    writer.adopt([rowOf(command('open', 'group'))]);
    // The previous firing's update of the shared incident, its commit not done yet.
    const earlier = writer.execute([command('update', 'group')]);
    await flush();
    expect(written).toEqual(['update group']);
    expect(pending()).toBe(1);

    const firing = writer.execute([command('open', 'a'), command('open', 'b'), command('update', 'group')]);
    await flush();
    // a and b went into a transaction (and a statement) of their own; the shared incident's update waits its turn.
    expect(written).toEqual(['update group', 'open a+b']);
    expect(pending()).toBe(2);
    releaseAll();
    await flush();
    releaseAll();
    await Promise.all([earlier, firing]);
    expect(written).toEqual(['update group', 'open a+b', 'update group']);
  });

  it("commits one event's commands together, and records its cause once", async () => {
    const { store, recordCause, written, releaseAll, pending } = gatedStore();
    const writer = new IncidentWriter(store, recordCause);
    writer.adopt([rowOf(command('open', 'group'))]);
    const event = writer.execute([command('open', 'a'), command('update', 'group')], { partition: 3, seq: 42 });
    await flush();
    expect(written).toEqual(['cause 3/42', 'open a', 'update group']);
    expect(pending()).toBe(1);
    releaseAll();
    await event;
  });

  it("commits an instance's incident before the service-level change it causes, in a transaction of its own", async () => {
    const { store, recordCause, written, releaseAll, pending } = gatedStore();
    const writer = new IncidentWriter(store, recordCause);
    writer.adopt([rowOf(command('open', '*'))]);
    const event = writer.execute([command('open', 'a'), command('update', '*')], { partition: 1, seq: 7 });
    await flush();
    // The service-level update waits for the instance's commit.
    expect(written).toEqual(['cause 1/7', 'open a']);
    expect(pending()).toBe(1);
    releaseAll();
    await flush();
    expect(written).toEqual(['cause 1/7', 'open a', 'cause 1/7', 'update *']);
    releaseAll();
    await event;
  });

  it("keeps a service-level incident's changes in order when a later member commits first", async () => {
    const { store, recordCause, written, releaseAll, release } = gatedStore();
    const writer = new IncidentWriter(store, recordCause);
    writer.adopt([rowOf(command('open', '*'))]);
    const first = writer.execute([command('open', 'a'), command('update', '*')]);
    const second = writer.execute([command('open', 'b'), command('update', '*')]);
    await flush();
    expect(written).toEqual(['open a', 'open b']);
    release(1); // b's commit lands before a's
    await flush();
    // The second group change waits for the first, which waits for a.
    expect(written).toEqual(['open a', 'open b']);
    release(0);
    await flush();
    expect(written).toEqual(['open a', 'open b', 'update *']);
    releaseAll();
    await flush();
    releaseAll();
    await Promise.all([first, second]);
    expect(written).toEqual(['open a', 'open b', 'update *', 'update *']);
  });

  it('writes a firing in one transaction, one statement per kind of change and wave', async () => {
    const { store, recordCause, written, releaseAll, pending } = gatedStore();
    const writer = new IncidentWriter(store, recordCause);
    writer.adopt([rowOf(command('open', 'g')), rowOf(command('open', 'h'))]);
    const firing = writer.execute([command('open', 'a'), command('update', 'g'), command('open', 'b'), command('update', 'a'), command('resolve', 'h')]);
    await flush();
    expect(written).toEqual(['open a+b', 'update g', 'resolve h', 'update a']);
    expect(pending()).toBe(1);
    releaseAll();
    await firing;
  });

  it('skips the update or resolve of an incident not open here', async () => {
    const { store, recordCause, written, releaseAll } = gatedStore();
    const writer = new IncidentWriter(store, recordCause);
    const firing = writer.execute([command('open', 'a'), command('update', 'x'), command('resolve', 'y')]);
    const lone = writer.execute([command('update', 'z')]);
    await flush();
    releaseAll();
    await Promise.all([firing, lone]);
    expect(written).toEqual(['open a']);
  });

  it("runs one fingerprint's commands in order, each after the previous one committed", async () => {
    const { store, recordCause, written, releaseAll } = gatedStore();
    const writer = new IncidentWriter(store, recordCause);
    const first = writer.execute([command('open', 'a')]);
    const second = writer.execute([command('update', 'a')]);
    await flush();
    // The update waits for the open's commit, not only for its statement.
    expect(written).toEqual(['open a']);
    releaseAll();
    await first;
    await flush();
    expect(written).toEqual(['open a', 'update a']);
    releaseAll();
    await second;
  });
});
