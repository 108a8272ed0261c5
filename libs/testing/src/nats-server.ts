import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './free-port.js';

export interface NatsServerHandle<Material = undefined> {
  /** nats://127.0.0.1:<port>, or tls://127.0.0.1:<port> for a secure server. */
  url: string;
  port: number;
  /** JetStream store directory; kept across restart(), removed by stop(). */
  storeDir: string;
  /** The server's config file (JetStream with `sync_interval: always`; TLS and NKey users when secure). */
  configFile: string;
  /** What the setup's writeConfig returned (TLS + NKey material of a secure server); undefined by default. */
  secure: Material;
  /** Stops the server (and waits for it to exit), then removes the store directory. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same store, e.g. to test reconnects. */
  restart(options?: { downtimeMs?: number }): Promise<void>;
  /** Every permission or authorization violation the server logged so far (one line each). */
  violations(): string[];
  /**
   * Freezes the server (SIGSTOP): connections stay open but nothing answers, like a server that
   * hangs or a network partition. resume() (SIGCONT) lets it go on where it was.
   */
  pause(): void;
  resume(): void;
  /** Makes the server read its config again (SIGHUP, as `nats-server --signal reload`) and waits until it did. */
  reload(): Promise<void>;
}

/**
 * How to configure a server other than the default (anonymous, plain text): e.g. TLS and NKey
 * users, as `natsDevServerSetup(identities)` of @autoheal/messaging does. writeConfig is called
 * for each port tried and must write the config file (JetStream with `sync_interval: always`).
 */
export interface NatsServerSetup<Material> {
  tls: boolean;
  writeConfig(args: { port: number; storeDir: string; dir: string }): { configFile: string; material: Material };
}

const READY_TIMEOUT_MS = 15_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The repository root: the nearest folder above this file with a package.json naming workspaces. */
function repositoryRoot(): string | undefined {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { workspaces?: unknown }).workspaces) return dir;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The nats-server binary: NATS_SERVER_BIN (which `npm test` exports after checking its version),
 * else the project-local copy that tools/infra/ensure-nats-server.js extracts into
 * .autoheal/bin/nats-server-<version>/. Never an older system one: it rejects `sync_interval`.
 */
export function findNatsServerBinary(): string {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const root = repositoryRoot();
  const binDir = root ? join(root, '.autoheal', 'bin') : undefined;
  const local = binDir && existsSync(binDir)
    ? readdirSync(binDir)
        .filter((name) => /^nats-server-\d+\.\d+\.\d+$/.test(name))
        .sort((a, b) => compareVersions(b.slice('nats-server-'.length), a.slice('nats-server-'.length)))
        .map((name) => join(binDir, name, 'usr', 'sbin', 'nats-server'))
        .find((candidate) => {
          try {
            accessSync(candidate, constants.X_OK);
            return true;
          } catch {
            return false;
          }
        })
    : undefined;
  if (local) return local;
  throw new Error(
    'nats-server 2.12.3 or later not found: run `node tools/infra/ensure-nats-server.js` (`npm test` does) ' +
      'to fetch it into .autoheal/bin/, or set NATS_SERVER_BIN',
  );
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/** The default server's config: JetStream on disk with every acknowledged write synced, as in production. */
function defaultConfig(port: number, storeDir: string): string {
  return ['listen: "127.0.0.1:' + port + '"', 'jetstream {', `  store_dir: ${JSON.stringify(storeDir)}`, '  sync_interval: always', '}', ''].join('\n');
}

/**
 * Starts a nats-server of our own with JetStream (`sync_interval: always`) on a free port and a
 * fresh store directory, from a generated config file. Every suite gets its own, so suites never
 * see each other's streams. A setup (e.g. @autoheal/messaging's natsDevServerSetup) adds TLS and
 * NKey authentication with the permission table's rights.
 */
export function startNatsServer(): Promise<NatsServerHandle>;
export function startNatsServer<Material>(setup: NatsServerSetup<Material>): Promise<NatsServerHandle<Material>>;
export async function startNatsServer<Material>(setup?: NatsServerSetup<Material>): Promise<NatsServerHandle<Material | undefined>> {
  const binary = findNatsServerBinary();
  const baseDir = mkdtempSync(join(tmpdir(), 'autoheal-nats-'));
  const storeDir = join(baseDir, 'store');
  installExitHook(baseDir);
  let child: ChildProcess | null = null;
  let port = 0;
  let lastError: unknown;
  let material: Material | undefined;
  const violations: string[] = [];
  let configFile = join(baseDir, 'nats-server.conf');
  const writeConfig = (p: number) => {
    if (setup) {
      ({ configFile, material } = setup.writeConfig({ port: p, storeDir, dir: baseDir }));
    } else {
      writeFileSync(configFile, defaultConfig(p, storeDir));
    }
  };
  // Another process may take the port between freePort() and the server binding it.
  for (let attempt = 0; attempt < 5 && child === null; attempt++) {
    port = await freePort();
    try {
      writeConfig(port);
      child = await launch(binary, configFile, port, violations);
    } catch (error) {
      lastError = error;
    }
  }
  if (child === null) {
    rmSync(baseDir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  const url = `${setup?.tls ? 'tls' : 'nats'}://127.0.0.1:${port}`;
  let current: ChildProcess | null = child;
  return {
    url,
    port,
    storeDir,
    configFile,
    secure: material,
    violations: () => [...violations],
    async stop() {
      if (current) await terminate(current);
      current = null;
      rmSync(baseDir, { recursive: true, force: true });
      baseDirs.delete(baseDir);
    },
    async restart({ downtimeMs = 0 } = {}) {
      if (current) await terminate(current);
      current = null;
      if (downtimeMs > 0) await new Promise((resolve) => setTimeout(resolve, downtimeMs));
      const deadline = Date.now() + READY_TIMEOUT_MS;
      // The port is ours, but the old socket may take a moment to go.
      for (;;) {
        try {
          current = await launch(binary, configFile, port, violations);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
    pause() {
      if (!current) throw new Error('nats-server is not running');
      current.kill('SIGSTOP');
    },
    resume() {
      if (!current) throw new Error('nats-server is not running');
      current.kill('SIGCONT');
    },
    async reload() {
      if (!current) throw new Error('nats-server is not running');
      const running = current;
      const reloaded = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('nats-server did not report a config reload within 10 s')), 10_000);
        const onData = (chunk: Buffer) => {
          if (/Reloaded server configuration/.test(chunk.toString('utf8'))) {
            clearTimeout(timer);
            running.stdout?.off('data', onData);
            running.stderr?.off('data', onData);
            resolve();
          }
        };
        running.stdout?.on('data', onData);
        running.stderr?.on('data', onData);
      });
      running.kill('SIGHUP');
      await reloaded;
    },
  };
}

function launch(binary: string, configFile: string, port: number, violations: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-c', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let output = '';
    let partial = '';
    let settled = false;
    const onData = (chunk: Buffer) => {
      // Always drained (a full pipe would block the server); only the tail is kept for errors.
      const text = chunk.toString('utf8');
      output = (output + text).slice(-8_000);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (/Violation/.test(line)) violations.push(line.replace(/^\[\d+\] \S+ \S+ /, ''));
      if (!settled && output.includes('Server is ready')) {
        settled = true;
        clearTimeout(timer);
        waitForPort(port).then(
          () => resolve(child),
          (error: unknown) => {
            child.kill('SIGKILL');
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`nats-server exited before it was ready (code ${code}, signal ${signal}):\n${output}`));
    });
    child.once('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`nats-server was not ready within ${READY_TIMEOUT_MS} ms:\n${output}`));
    }, READY_TIMEOUT_MS);
  });
}

function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = tcpConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', (error) => {
        socket.destroy();
        if (Date.now() > deadline) reject(error);
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

const baseDirs = new Set<string>();

/** A suite that forgets stop() must not leave servers or store directories behind. */
function installExitHook(baseDir: string): void {
  baseDirs.add(baseDir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of baseDirs) rmSync(dir, { recursive: true, force: true });
  });
}
