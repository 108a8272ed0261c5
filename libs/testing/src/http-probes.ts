import { readFileSync } from 'node:fs';
import { expectEventually } from './expect-eventually.js';

/**
 * The local addresses a TCP port is listening on, read from the kernel's socket tables
 * (/proc/net/tcp and tcp6, Linux): `127.0.0.1`, `0.0.0.0`, `::`, `::1`, … What a server bound
 * is checked here rather than what it was asked to bind.
 */
export function listeningAddresses(port: number): string[] {
  const found = new Set<string>();
  for (const [file, decode] of [
    ['/proc/net/tcp', decodeIpv4],
    ['/proc/net/tcp6', decodeIpv6],
  ] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue; // 0A: LISTEN
      const [hexAddress, hexPort] = local.split(':');
      if (parseInt(hexPort ?? '', 16) === port) found.add(decode(hexAddress ?? ''));
    }
  }
  return [...found].sort();
}

function decodeIpv4(hex: string): string {
  // Little-endian 32-bit word: 0100007F is 127.0.0.1.
  const bytes = hex.match(/../g) ?? [];
  return bytes.map((b) => parseInt(b, 16)).reverse().join('.');
}

function decodeIpv6(hex: string): string {
  // Four little-endian 32-bit words.
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse());
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(parseInt(`${bytes[i]}${bytes[i + 1]}`, 16).toString(16));
  const text = groups.join(':');
  if (text === '0:0:0:0:0:0:0:0') return '::';
  if (text === '0:0:0:0:0:0:0:1') return '::1';
  return text;
}

interface Probe {
  status: number;
  body: { status?: string; checks?: Record<string, { ok?: boolean }> } | null;
}

async function probe(url: string): Promise<Probe> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json().catch(() => null)) as Probe['body'] };
}

/** Throws with what was seen (this runs outside Jest's expect, in a library). */
function check(condition: boolean, expected: string, seen: Probe): void {
  if (!condition) throw new Error(`expected ${expected}; saw ${JSON.stringify(seen)}`);
}

const isLive = (p: Probe) => p.status === 200 && p.body?.status === 'ok' && p.body.checks === undefined;
const isReady = (p: Probe) => p.status === 200 && p.body?.status === 'ok' && p.body.checks?.postgres?.ok === true && p.body.checks.nats?.ok === true;
const isNatsDown = (p: Probe) => p.status === 503 && p.body?.status === 'error' && p.body.checks?.postgres?.ok === true && p.body.checks.nats?.ok === false;

/**
 * The probes every service serves, against its real dependencies: liveness and readiness both
 * 200 while Postgres and NATS answer; while `nats` is frozen (paused: connections open, nothing
 * answers), readiness (and its older name /health) turns 503 naming `nats` while liveness stays
 * 200, so an outage takes the pod out of service without getting it restarted; once the server
 * answers again, readiness is back to 200.
 */
export async function expectProbesFollowDependencies(baseUrl: string, nats: { pause(): void; resume(): void }): Promise<void> {
  const live = `${baseUrl}/health/live`;
  const ready = `${baseUrl}/health/ready`;
  const legacy = `${baseUrl}/health`;
  check(isLive(await probe(live)), 'liveness 200 {status:ok} without checks', await probe(live));
  for (const url of [ready, legacy]) {
    const seen = await probe(url);
    check(isReady(seen), `${url} 200 with postgres and nats ok`, seen);
  }
  nats.pause();
  try {
    await expectEventually(
      async () => {
        const seen = await probe(ready);
        check(isNatsDown(seen), 'readiness 503 naming nats (postgres still ok) while NATS is frozen', seen);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const seenLegacy = await probe(legacy);
    check(isNatsDown(seenLegacy), '/health 503 like readiness', seenLegacy);
    const seenLive = await probe(live);
    check(isLive(seenLive), 'liveness still 200 while NATS is frozen', seenLive);
  } finally {
    nats.resume();
  }
  await expectEventually(
    async () => {
      const seen = await probe(ready);
      check(isReady(seen), 'readiness 200 again once NATS answers', seen);
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}
