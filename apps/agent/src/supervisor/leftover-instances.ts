import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';

/**
 * The pids of the instances this agent runs, kept in a file so that the next agent can clean up
 * after one that was killed. Instances normally exit with their agent (they watch the IPC
 * channel), but a hung one (SIGSTOP) cannot notice, and would keep its port from the new agent.
 */
export class InstancePidFile {
  private readonly pids = new Map<string, RecordedProcess>();

  constructor(readonly path: string) {}

  /** Records a process and the command line it was started with (program and arguments). */
  set(key: string, pid: number, argv: readonly string[]): void {
    this.pids.set(key, { pid, argv: [...argv] });
    this.write();
  }

  /** Forgets `key`, but only if it still maps to `pid` (a restart may already have replaced it). */
  delete(key: string, pid: number): void {
    if (this.pids.get(key)?.pid !== pid) return;
    this.pids.delete(key);
    this.write();
  }

  private write(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.tmp-${process.pid}`;
    writeFileSync(temporary, JSON.stringify(Object.fromEntries(this.pids)));
    renameSync(temporary, this.path);
  }
}

interface RecordedProcess {
  pid: number;
  argv: string[];
}

/**
 * SIGKILLs the instances a previous agent left running. A pid only counts when it still runs
 * the very command line it was started with (checked in /proc), so a recycled pid is never
 * killed; without /proc nothing is killed.
 */
export async function killLeftoverInstances(path: string, logger: Logger): Promise<number> {
  let recorded: Record<string, unknown>;
  try {
    recorded = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return 0;
  }
  const killed: RecordedProcess[] = [];
  for (const [key, entry] of Object.entries(recorded)) {
    const { pid, argv } = (entry ?? {}) as Partial<RecordedProcess>;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1 || !Array.isArray(argv) || !runs({ pid, argv })) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push({ pid, argv });
      logger.warn({ instance: key, leftoverPid: pid }, 'killed an instance left running by a previous agent');
    } catch {
      // Gone in the meantime.
    }
  }
  const deadline = Date.now() + 5_000;
  while (killed.some(runs) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return killed.length;
}

function runs({ pid, argv }: RecordedProcess): boolean {
  try {
    // /proc/<pid>/cmdline is the argv, each entry ended by NUL.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === argv.map((a) => `${a}\0`).join('');
  } catch {
    return false;
  }
}
