import { InvalidSubjectTokenError } from '@autoheal/contracts';
import { CustomChecks, MAX_CHECKS } from './custom-checks.js';

describe('CustomChecks', () => {
  it('runs every check and reports true, false, a throw and a timeout', async () => {
    const checks = new CustomChecks();
    checks.register('database', () => Promise.resolve(true));
    checks.register('cache', () => false);
    checks.register('queue', () => Promise.reject(new Error('connection refused')));
    checks.register('slow', () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 500)));
    expect(await checks.run(50)).toEqual([
      { name: 'database', ok: true },
      { name: 'cache', ok: false, detail: 'returned false' },
      { name: 'queue', ok: false, detail: 'connection refused' },
      { name: 'slow', ok: false, detail: 'timed out after 50 ms' },
    ]);
  });

  it('refuses a name that is not a subject token and more than the contract allows', () => {
    const checks = new CustomChecks();
    expect(() => checks.register('db.primary', () => true)).toThrow(InvalidSubjectTokenError);
    for (let i = 0; i < MAX_CHECKS; i++) checks.register(`c${i}`, () => true);
    checks.register('c0', () => false); // replacing is fine
    expect(() => checks.register('one-more', () => true)).toThrow(RangeError);
  });
});
