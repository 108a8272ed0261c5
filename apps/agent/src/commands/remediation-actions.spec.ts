import { nextInstanceName, resolveRelease } from './remediation-actions.js';

const history = [{ version: 'v1' }, { version: 'v2', env: { FEATURE_X: 'on' } }, { version: 'v3' }];

describe('resolveRelease', () => {
  it.each([
    ['previous of the current', 'v3', 'previous', 'v2'],
    ['previous after a rollback', 'v2', 'previous', 'v1'],
    ['a named older release', 'v3', 'v1', 'v1'],
    ['a named newer release (roll forward again)', 'v1', 'v3', 'v3'],
  ])('finds %s', (_name, current, toRelease, expected) => {
    expect(resolveRelease(history, { version: current }, toRelease)).toMatchObject({ version: expected });
  });

  it.each([
    ['no release before the first', 'v1', 'previous', 'parameters.toRelease: no release before v1 (releases: v1, v2, v3)'],
    ['an unknown release', 'v3', 'v7', 'parameters.toRelease: unknown release v7 (releases: v1, v2, v3)'],
    ['the release it runs', 'v2', 'v2', 'parameters.toRelease: the instance already runs v2'],
  ])('refuses %s, naming the field', (_name, current, toRelease, problem) => {
    expect(resolveRelease(history, { version: current }, toRelease)).toEqual({ problem });
  });
});

describe('nextInstanceName', () => {
  it('takes the smallest free <service>-<n>', () => {
    expect(nextInstanceName('patient-api', ['patient-api-1', 'patient-api-2'])).toBe('patient-api-3');
    expect(nextInstanceName('patient-api', ['patient-api-2'])).toBe('patient-api-1');
    expect(nextInstanceName('api', ['blue', 'green'])).toBe('api-1');
  });
});
