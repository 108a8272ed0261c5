/**
 * Stopping `npm start` the way a supervisor or a terminal does — one signal to the runner's own
 * process, not to its process group — stops every process it started: the four services, the
 * agent and the demo API servers it runs, nats-server and the embedded Postgres. And when the
 * runner is SIGKILLed (no chance to clean up), its reaper does it.
 *
 * The real runner (`node tools/dev/start.js`, the build `npm start` makes first), with its own
 * state folder, OS-picked ports, an embedded Postgres of its own and no demo scenario. Every
 * process of the run carries AUTOHEAL_RUN_ID (set here), which is how survivors are found: by
 * their environment in /proc, whoever their parent is by then.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectEventually, freePort } from '@autoheal/testing';
import { processesOfRun, RUN_ID_VARIABLE } from '../tools/dev/processes.js';
import { ROOT } from '../tools/dev/system.js';

/** A loaded 2-core machine may take minutes to bring up Postgres, migrations, four services and the fleet. */
const READY_MS = 300_000;
/** What a terminal or a supervisor would wait; the runner itself allows each process 10 s before SIGKILL. */
const STOPPED_MS = 60_000;

function describeProcess(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 160)}`;
  } catch {
    return `${pid} (gone)`;
  }
}

interface Run {
  runId: string;
  runner: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Linux: survivors are found in /proc (as the project's machines and CI are).
describe('stopping npm start (tools/dev/start.js) leaves nothing running', () => {
  let stateDir: string;
  const runs: Run[] = [];

  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-dev-stop-'));
    // Run as root, the embedded Postgres runs as the `postgres` user, who must reach its data folder in here.
    chmodSync(stateDir, 0o755);
  });

  afterAll(async () => {
    // Whatever a failed case left: not left on the machine.
    for (const run of runs) {
      for (const pid of processesOfRun(run.runId)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function startRunner(): Promise<Run> {
    const runId = `dev-stop-${randomUUID()}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      [RUN_ID_VARIABLE]: runId,
      AUTOHEAL_STATE_DIR: stateDir,
      AUDITOR_PORT: String(await freePort()),
      DETECTOR_PORT: String(await freePort()),
      DECISION_PORT: String(await freePort()),
      EXECUTOR_PORT: String(await freePort()),
      AUTOHEAL_NATS_PORT: String(await freePort()),
      AUTOHEAL_EMBEDDED_PG_PORT: String(await freePort()),
      // Its own embedded Postgres (it is among what must stop), not a server that happens to answer.
      AUTOHEAL_SKIP_LOCAL_PG: '1',
      FLEET_BASE_PORT: '0',
      AUTOHEAL_DEMO_CHAOS: '0',
      LOG_LEVEL: 'warn',
    };
    delete env.DATABASE_URL;
    delete env.NATS_URL;
    delete env.NATS_TLS_CA_FILE;
    delete env.NATS_NKEY_SEED_FILE;
    // A group of its own, as under a supervisor: the signal below reaches the runner and nothing else.
    const runner = spawn(process.execPath, [join(ROOT, 'tools/dev/start.js')], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    runner.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    runner.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => runner.once('exit', (code, signal) => resolve({ code, signal })));
    const run = { runId, runner, output: () => output, exited };
    runs.push(run);
    // Ready, or the runner's exit (then at once, with what it printed).
    const ready = expectEventually(() => expect(output).toContain('autoheal: ready'), { timeoutMs: READY_MS, intervalMs: 500 });
    const outcome = await Promise.race([ready.then(() => 'ready' as const), exited]);
    if (outcome !== 'ready') throw new Error(`the runner exited (${JSON.stringify(outcome)}) before it was ready:\n${output.slice(-4000)}`);
    return run;
  }

  /** The run's processes by kind, to show that there was something to stop. */
  function kinds(runId: string): string[] {
    const lines = processesOfRun(runId).map(describeProcess);
    const kind = (pattern: RegExp, name: string) => lines.filter((l) => pattern.test(l)).map(() => name);
    return [
      ...kind(/tools\/dev\/start\.js/, 'runner'),
      ...kind(/apps\/(auditor|detector|decision|executor)\/dist\/main\.js/, 'service'),
      ...kind(/apps\/agent\/dist\/main\.js/, 'agent'),
      ...kind(/api-server\.main\.js/, 'api-server'),
      ...kind(/nats-server/, 'nats-server'),
      ...kind(/bin\/postgres/, 'postgres'),
      ...kind(/tools\/dev\/reaper\.js/, 'reaper'),
    ].sort();
  }

  async function expectNothingLeft(run: Run): Promise<void> {
    await expectEventually(
      () => {
        const survivors = processesOfRun(run.runId);
        if (survivors.length > 0) throw new Error(`still running:\n${survivors.map(describeProcess).join('\n')}\nrunner output (end):\n${run.output().slice(-3000)}`);
      },
      { timeoutMs: STOPPED_MS, intervalMs: 250 },
    );
  }

  it.each(['SIGINT', 'SIGTERM'] as const)('%s to the runner alone: it stops everything it started, and exits 0', async (signal) => {
    const run = await startRunner();
    const before = kinds(run.runId);
    expect(before.filter((k) => k === 'service')).toHaveLength(4);
    for (const k of ['runner', 'agent', 'nats-server', 'postgres', 'reaper', 'api-server']) expect(before).toContain(k);

    process.kill(run.runner.pid!, signal);
    await expectNothingLeft(run);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toMatch(new RegExp(`${signal}: stopping…[\\s\\S]*stopped \\(\\d+\\.\\d s\\)`));
  }, READY_MS + STOPPED_MS + 60_000);

  it('SIGKILL to the runner: its reaper stops everything it started', async () => {
    const run = await startRunner();
    expect(kinds(run.runId)).toContain('postgres');

    process.kill(run.runner.pid!, 'SIGKILL');
    await expectNothingLeft(run);
    expect((await run.exited).signal).toBe('SIGKILL');
  }, READY_MS + STOPPED_MS + 60_000);
});
