import { request } from 'node:http';

export type Readiness = 'ready' | 'timeout' | 'exited';

export interface WaitForReadyOptions {
  port: number;
  /** The process that must answer; an answer from any other pid does not count. */
  pid: number;
  timeoutMs: number;
  /** Resolves when the process exits, which ends the wait at once. */
  exited: Promise<void>;
  pollMs?: number;
}

/** Polls `GET /healthz` until the new process answers 200 with its own pid. */
export async function waitForReady(options: WaitForReadyOptions): Promise<Readiness> {
  // Polled often: every millisecond between the process listening and the agent noticing is
  // time the instance is out of service (a local GET costs well under a millisecond).
  const { port, pid, timeoutMs, pollMs = 10 } = options;
  let exited = false;
  void options.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) return 'exited';
    const answer = await getHealthz(port, Math.min(1_000, Math.max(1, deadline - Date.now())));
    if (answer?.status === 200 && answer.pid === pid) return 'ready';
    if (exited) return 'exited';
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return exited ? 'exited' : 'timeout';
}

function getHealthz(port: number, timeoutMs: number): Promise<{ status: number; pid: unknown } | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        let pid: unknown;
        try {
          pid = (JSON.parse(body) as { pid?: unknown }).pid;
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
