import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where the search for a port starts: above the well-known and registered ports services use here. */
const SEARCH_FROM = 20_000;

/** Ports this process handed out: never twice. */
const handedOut = new Set<number>();

/** The low end of the kernel's ephemeral port range (Linux; 32768 elsewhere or when unreadable). */
function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && low > SEARCH_FROM + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether 127.0.0.1:port can be listened on now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)));
  });
}

/** A port the OS picks (port 0): from the ephemeral range. */
function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that the OS let us listen on a moment ago, for a process a test starts
 * next. Taken below the kernel's ephemeral range: a port from that range (what port 0 gives) can
 * be taken meanwhile by any outgoing connection's local port — a service of a whole-system test
 * then failed to start with EADDRINUSE on a busy machine — while one below it can only be taken by
 * another listener. Never the same port twice in a process; the OS-picked port only when no port
 * below the range could be bound in 200 tries.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = SEARCH_FROM + Math.floor(Math.random() * (low - SEARCH_FROM));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  return osPickedPort();
}
