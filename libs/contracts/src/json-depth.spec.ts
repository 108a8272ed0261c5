import { nestsDeeperThan } from './json-depth';

describe('nestsDeeperThan', () => {
  it.each([
    ['a flat object', '{"a":1}', 1, false],
    ['one level too deep', '{"a":{"b":1}}', 1, true],
    ['arrays count as levels', '[[[]]]', 2, true],
    ['exactly at the limit', '[[[]]]', 3, false],
    ['brackets inside strings do not count', '{"a":"[[[[{{{{"}', 1, false],
    ['escaped quotes keep the string open', '{"a":"\\"[[[["}', 1, false],
    ['siblings do not add up', '[[],[],[],[]]', 2, false],
  ])('%s', (_name, text, max, expected) => {
    expect(nestsDeeperThan(text, max)).toBe(expected);
  });

  it('finds a 200,000-deep body without recursing', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(nestsDeeperThan(deep, 32)).toBe(true);
  });
});
