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
