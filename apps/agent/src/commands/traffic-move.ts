import { spawn } from 'node:child_process';
import type { AgentTrafficMove } from '@autoheal/contracts';

/** What a failover tells the traffic switch: where the service now runs. */
export interface TrafficDestination {
  tenantId: string;
  service: string;
  region: string;
  remediationId: string;
  instances: { instance: string; port: number }[];
}

export type TrafficMoved = { ok: true; detail: Record<string, unknown> } | { ok: false; message: string };

/**
 * Moves the service's traffic to its standby the way the config says: an HTTP call answered 2xx,
 * or a command exiting 0, within the configured time. The switch is the team's; the agent only
 * asks it and reports whether it said yes.
 */
export async function moveTraffic(how: AgentTrafficMove, to: TrafficDestination): Promise<TrafficMoved> {
  switch (how.kind) {
    case 'http':
      return moveByHttp(how, to);
    case 'command':
      return moveByCommand(how, to);
  }
}

async function moveByHttp(how: Extract<AgentTrafficMove, { kind: 'http' }>, to: TrafficDestination): Promise<TrafficMoved> {
  try {
    const res = await fetch(how.url, {
      method: how.method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(to),
      redirect: 'manual',
      signal: AbortSignal.timeout(how.timeoutMs),
    });
    const body = (await res.text()).slice(0, 500);
    if (res.status >= 200 && res.status < 300) return { ok: true, detail: { via: 'http', url: how.url, status: res.status } };
    return { ok: false, message: `${how.method} ${how.url} answered ${res.status}: ${body}` };
  } catch (error) {
    return { ok: false, message: `${how.method} ${how.url} failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function moveByCommand(how: Extract<AgentTrafficMove, { kind: 'command' }>, to: TrafficDestination): Promise<TrafficMoved> {
  const [program, ...args] = how.command;
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(program, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        AUTOHEAL_FAILOVER_TENANT: to.tenantId,
        AUTOHEAL_FAILOVER_SERVICE: to.service,
        AUTOHEAL_FAILOVER_REGION: to.region,
        AUTOHEAL_FAILOVER_REMEDIATION_ID: to.remediationId,
        AUTOHEAL_FAILOVER_INSTANCES: to.instances.map((i) => `${i.instance}:${i.port}`).join(','),
      },
    });
    const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-500));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), how.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `${program} could not be run: ${error.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true, detail: { via: 'command', command: program } });
      else resolve({ ok: false, message: `${program} ${signal ? `was killed (${signal}${signal === 'SIGKILL' ? `, after ${how.timeoutMs} ms` : ''})` : `exited ${code}`}: ${output.trim()}` });
    });
  });
}
