import { request } from 'node:http';
import type { AgentReadyProbe } from '@autoheal/contracts';

export type Readiness = 'ready' | 'timeout' | 'exited';

/** The service's ready probe from the agent's config: the path, and the JSON field that must carry the pid (if any). */
export type ReadyProbe = AgentReadyProbe;

export interface WaitForReadyOptions {
  port: number;
  /** The process that must answer; with the probe's `pidField`, an answer naming any other pid does not count. */
  pid: number;
  probe: ReadyProbe;
  timeoutMs: number;
  /** Resolves when the process exits, which ends the wait at once. */
  exited: Promise<void>;
  pollMs?: number;
}

/** Polls the probe's `GET <path>` until it answers 200 (with the new process's own pid, when the probe names a field for it). */
export async function waitForReady(options: WaitForReadyOptions): Promise<Readiness> {
  // Polled often: every millisecond between the process listening and the agent noticing is
  // time the instance is out of service (a local GET costs well under a millisecond).
  const { port, pid, probe, timeoutMs, pollMs = 10 } = options;
  let exited = false;
  void options.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) return 'exited';
    const answer = await probeOnce(port, probe, Math.min(1_000, Math.max(1, deadline - Date.now())));
    if (answer?.status === 200 && (probe.pidField === undefined || answer.pid === pid)) return 'ready';
    if (exited) return 'exited';
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return exited ? 'exited' : 'timeout';
}

function probeOnce(port: number, probe: ReadyProbe, timeoutMs: number): Promise<{ status: number; pid: unknown } | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: probe.path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        let pid: unknown;
        try {
          pid = probe.pidField === undefined ? undefined : (JSON.parse(body) as Record<string, unknown>)[probe.pidField];
        } catch {
          pid = undefined;
        }
        resolve({ status: res.statusCode ?? 0, pid });
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}
