import { ttrVerdict, type TtrCandidate } from './ttr-check.js';

const base: TtrCandidate = { openedAt: 0, maxTimeToRemediateMs: 1000, atRiskAlready: false, breachedAlready: false };

describe('ttrVerdict', () => {
  it.each([
    ['well within the limit', base, 500, 'ok'],
    ['just before the at-risk share', base, 799, 'ok'],
    ['at the at-risk share', base, 800, 'at_risk'],
    ['at risk, already reported', { ...base, atRiskAlready: true }, 900, 'ok'],
    ['limit reached', base, 1000, 'breach'],
    ['limit reached after an at-risk report', { ...base, atRiskAlready: true }, 1500, 'breach'],
    ['breach already reported', { ...base, atRiskAlready: true, breachedAlready: true }, 5000, 'ok'],
  ] as const)('%s', (_name, candidate, now, expected) => {
    expect(ttrVerdict(candidate, now, 0.8)).toBe(expected);
  });
});
