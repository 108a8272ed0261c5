import { poolMaxOf } from './data-source';

describe('poolMaxOf', () => {
  it("takes the caller's size, else DATABASE_POOL_MAX, else 10", () => {
    expect(poolMaxOf({ poolMax: 3 }, { DATABASE_POOL_MAX: '7' })).toBe(3);
    expect(poolMaxOf({}, { DATABASE_POOL_MAX: '7' })).toBe(7);
    expect(poolMaxOf({}, {})).toBe(10);
    expect(poolMaxOf({}, { DATABASE_POOL_MAX: '' })).toBe(10);
  });

  it('refuses a size that is not a whole number from 1 to 200, naming the variable', () => {
    for (const bad of ['0', '-1', '2.5', 'ten', '201']) expect(() => poolMaxOf({}, { DATABASE_POOL_MAX: bad })).toThrow(/DATABASE_POOL_MAX/);
  });
});
