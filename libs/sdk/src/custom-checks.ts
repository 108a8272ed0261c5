import { assertSubjectToken, type MetricSample } from '@autoheal/contracts';

export type CheckResult = NonNullable<MetricSample['checks']>[number];
export type CheckFn = () => Promise<boolean> | boolean;

/** The contract's limit on checks per sample. */
export const MAX_CHECKS = 32;

/** Named checks run once per window; each gets `timeoutMs`, a timeout or a throw counts as failed. */
export class CustomChecks {
  private readonly checks = new Map<string, CheckFn>();

  register(name: string, check: CheckFn): void {
    assertSubjectToken('check name', name);
    if (!this.checks.has(name) && this.checks.size >= MAX_CHECKS) throw new RangeError(`at most ${MAX_CHECKS} checks`);
    this.checks.set(name, check);
  }

  unregister(name: string): void {
    this.checks.delete(name);
  }

  get size(): number {
    return this.checks.size;
  }

  run(timeoutMs: number): Promise<CheckResult[]> {
    return Promise.all([...this.checks].map(([name, check]) => runOne(name, check, timeoutMs)));
  }
}

async function runOne(name: string, check: CheckFn, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve({ name, ok: false, detail: `timed out after ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
  });
  const outcome = (async (): Promise<CheckResult> => {
    try {
      const ok = await check();
      return ok === true ? { name, ok: true } : { name, ok: false, detail: 'returned false' };
    } catch (error) {
      return { name, ok: false, detail: (error instanceof Error ? error.message : String(error)).slice(0, 500) };
    }
  })();
  try {
    return await Promise.race([outcome, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
