import { Agent, get } from 'node:http';

export interface SyntheticTraffic {
  stop(): void;
}

/**
 * A stand-in for the tenant's users: GETs `url` `requestsPerSecond` times a second, so that the
 * instance's error rate and latency have requests to be measured on. Answers are read and
 * dropped; failures (the instance is restarting, or answers 500 on purpose) are ignored. The
 * timer is unref'd: traffic alone does not keep the process alive.
 */
export function startSyntheticTraffic(url: string, requestsPerSecond: number): SyntheticTraffic {
  if (requestsPerSecond <= 0) return { stop: () => undefined };
  // Keep-alive: a new connection per request would measure the TCP handshake, not the server.
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const timer = setInterval(() => {
    const request = get(url, { agent, timeout: 10_000 }, (res) => res.resume());
    request.on('timeout', () => request.destroy());
    request.on('error', () => undefined);
  }, 1000 / requestsPerSecond);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      agent.destroy();
    },
  };
}
