import { RecentOutcomes } from './recent-outcomes.js';

describe('RecentOutcomes', () => {
  it('keeps at most its capacity, dropping the least recently used first', () => {
    const memory = new RecentOutcomes<number>(2);
    memory.remember('a', 1);
    memory.remember('b', 2);
    expect(memory.get('a')).toBe(1); // a is now the most recent
    memory.remember('c', 3);
    expect(memory.get('b')).toBeUndefined();
    expect(memory.get('a')).toBe(1);
    expect(memory.get('c')).toBe(3);
    expect(memory.size).toBe(2);
  });

  it('replaces the value of a key remembered again', () => {
    const memory = new RecentOutcomes<string>(2);
    memory.remember('a', 'first');
    memory.remember('a', 'second');
    expect(memory.get('a')).toBe('second');
    expect(memory.size).toBe(1);
  });

  it('refuses a capacity that could hold nothing', () => {
    expect(() => new RecentOutcomes(0)).toThrow(/positive integer/);
  });
});
