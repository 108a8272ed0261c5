import { PerTenantInFlight } from './per-tenant-in-flight';

/** A task that finishes when told to, recording when it started. */
function gate(started: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return {
    task: async () => {
      started.push(name);
      await done;
      return name;
    },
    open: () => open(),
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('PerTenantInFlight', () => {
  it('runs at most `limit` tasks of a tenant at once, the rest in the order they came', async () => {
    const limit = new PerTenantInFlight(2);
    const started: string[] = [];
    const gates = ['a1', 'a2', 'a3', 'a4'].map((name) => gate(started, name));
    const results = gates.map((g) => limit.run('a', g.task));
    await tick();
    expect(started).toEqual(['a1', 'a2']);
    expect(limit.load('a')).toEqual({ running: 2, waiting: 2 });
    gates[1].open();
    await tick();
    expect(started).toEqual(['a1', 'a2', 'a3']);
    gates[0].open();
    gates[2].open();
    gates[3].open();
    expect(await Promise.all(results)).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(limit.load('a')).toEqual({ running: 0, waiting: 0 });
  });

  it("starts a tenant's urgent task before its routine ones waiting", async () => {
    const limit = new PerTenantInFlight(1);
    const started: string[] = [];
    const gates = ['hb1', 'hb2', 'hb3', 'crash'].map((name) => gate(started, name));
    const results = [
      limit.run('a', gates[0].task, { key: 'i-1' }),
      limit.run('a', gates[1].task, { key: 'i-2' }),
      limit.run('a', gates[2].task, { key: 'i-3' }),
      limit.run('a', gates[3].task, { urgent: true, key: 'i-4' }),
    ];
    await tick();
    expect(started).toEqual(['hb1']);
    gates[0].open();
    await tick();
    // The crash report of i-4 goes next, ahead of the heartbeats that came before it.
    expect(started).toEqual(['hb1', 'crash']);
    gates.forEach((g) => g.open());
    await Promise.all(results);
    expect(started).toEqual(['hb1', 'crash', 'hb2', 'hb3']);
  });

  it("never lets an urgent task overtake an earlier task of its own key (an instance's last heartbeat before its exit)", async () => {
    const limit = new PerTenantInFlight(1);
    const started: string[] = [];
    const gates = ['running', 'hb i-2', 'hb i-1', 'hb i-1 again', 'exit i-1'].map((name) => gate(started, name));
    const results = [
      limit.run('a', gates[0].task, { key: 'i-9' }),
      limit.run('a', gates[1].task, { key: 'i-2' }),
      limit.run('a', gates[2].task, { key: 'i-1' }),
      limit.run('a', gates[3].task, { key: 'i-1' }),
      limit.run('a', gates[4].task, { urgent: true, key: 'i-1' }),
    ];
    await tick();
    gates.forEach((g) => g.open());
    await Promise.all(results);
    // i-1's heartbeats were taken ahead with its exit, in their order; i-2's waited.
    expect(started).toEqual(['running', 'hb i-1', 'hb i-1 again', 'exit i-1', 'hb i-2']);
  });

  it('does not hold one tenant behind another tenant that is at its limit', async () => {
    const limit = new PerTenantInFlight(1);
    const started: string[] = [];
    const a = [gate(started, 'a1'), gate(started, 'a2')];
    const b = gate(started, 'b1');
    const running = [...a.map((g) => limit.run('a', g.task)), limit.run('b', b.task)];
    await tick();
    expect(started).toEqual(['a1', 'b1']);
    b.open();
    a.forEach((g) => g.open());
    await Promise.all(running);
    expect(started).toEqual(['a1', 'b1', 'a2']);
  });

  it('frees the place of a task that failed', async () => {
    const limit = new PerTenantInFlight(1);
    await expect(limit.run('a', () => Promise.reject(new Error('store unavailable')))).rejects.toThrow('store unavailable');
    expect(await limit.run('a', () => Promise.resolve('next'))).toBe('next');
    expect(limit.load('a')).toEqual({ running: 0, waiting: 0 });
  });

  it('refuses a limit below one', () => {
    expect(() => new PerTenantInFlight(0)).toThrow(RangeError);
  });
});
