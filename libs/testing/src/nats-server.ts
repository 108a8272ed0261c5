import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.js';

export interface NatsServerHandle {
  /** nats://127.0.0.1:<port> */
  url: string;
  port: number;
  /** JetStream store directory; kept across restart(), removed by stop(). */
  storeDir: string;
  /** Stops the server (and waits for it to exit), then removes the store directory. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same store, e.g. to test reconnects. */
  restart(options?: { downtimeMs?: number }): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The nats-server binary: NATS_SERVER_BIN, else `nats-server` on PATH, else the Debian location. */
export function findNatsServerBinary(): string {
  const candidates = [
    process.env.NATS_SERVER_BIN,
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'nats-server')),
    '/usr/sbin/nats-server',
    '/usr/local/bin/nats-server',
  ].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next candidate
    }
  }
  throw new Error(
    'nats-server not found: set NATS_SERVER_BIN, put nats-server on PATH, or install it (apt-get install nats-server); ' +
      '`npm test` installs it when it can',
  );
}

/**
 * Starts a nats-server of our own with JetStream on a free port and a fresh store directory.
 * Every suite gets its own, so suites never see each other's streams.
 */
export async function startNatsServer(): Promise<NatsServerHandle> {
  const binary = findNatsServerBinary();
  const storeDir = mkdtempSync(join(tmpdir(), 'autoheal-nats-'));
  installExitHook(storeDir);
  let child: ChildProcess | null = null;
  let port = 0;
  let lastError: unknown;
  // Another process may take the port between freePort() and the server binding it.
  for (let attempt = 0; attempt < 5 && child === null; attempt++) {
    port = await freePort();
    try {
      child = await launch(binary, port, storeDir);
    } catch (error) {
      lastError = error;
    }
  }
  if (child === null) {
    rmSync(storeDir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  let current: ChildProcess | null = child;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      if (current) await terminate(current);
      current = null;
      rmSync(storeDir, { recursive: true, force: true });
      storeDirs.delete(storeDir);
    },
    async restart({ downtimeMs = 0 } = {}) {
      if (current) await terminate(current);
      current = null;
      if (downtimeMs > 0) await new Promise((resolve) => setTimeout(resolve, downtimeMs));
      const deadline = Date.now() + READY_TIMEOUT_MS;
      // The port is ours, but the old socket may take a moment to go.
      for (;;) {
        try {
          current = await launch(binary, port, storeDir);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}

function launch(binary: string, port: number, storeDir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let output = '';
    let settled = false;
    const onData = (chunk: Buffer) => {
      // Always drained (a full pipe would block the server); only the tail is kept for errors.
      output = (output + chunk.toString('utf8')).slice(-8_000);
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

const storeDirs = new Set<string>();

/** A suite that forgets stop() must not leave servers or store directories behind. */
function installExitHook(storeDir: string): void {
  storeDirs.add(storeDir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of storeDirs) rmSync(dir, { recursive: true, force: true });
  });
}
