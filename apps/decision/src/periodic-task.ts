import { createLogger } from '@autoheal/telemetry';

const log = createLogger('decision');

/**
 * Runs `work` every `intervalMs` (0: never — tests call the work themselves), one run at a time:
 * a run still going when the next is due is not doubled up. A failed run is logged and the next
 * interval tries again; the timer never keeps the process alive on its own.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly name: string,
    private readonly work: () => Promise<unknown>,
  ) {}

  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async runOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.work();
    } catch (error) {
      log.error({ err: error, task: this.name }, `${this.name} failed; retrying next interval`);
    } finally {
      this.running = false;
    }
  }
}
