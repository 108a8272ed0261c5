import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsAuthOptions, type NatsCredentialFiles } from './nats-credentials.js';

export interface ConnectNatsOptions extends NatsCredentialFiles {
  /** `tls://host:port` when the server requires TLS (then `caFile` verifies it). */
  servers: string | string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name: string;
  logger?: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /**
   * Called when the connection closes for good without us asking. The default exits the
   * process non-zero so that its supervisor restarts it: a service that silently stops
   * consuming is worse than one that restarts.
   */
  onClosedForGood?: (error: Error | undefined) => void;
}

const closingOnPurpose = new WeakSet<NatsConnection>();

/**
 * Connects with unlimited reconnects; exits the process when the connection is lost for good.
 * With a seed file it authenticates with that NKey and uses the identity's own inbox prefix; with
 * a CA file it requires TLS and verifies the server against that CA.
 */
export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const nc = await connect({
    ...natsAuthOptions(options),
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    // Otherwise every request (each JetStream publish awaiting its ack) builds two Error objects
    // up front, stack trace included, in case it fails: under a tenant's ingest flood that was
    // about a sixth of the detector's busy CPU. Such an error then lacks the caller's stack only.
    noAsyncTraces: true,
  });
  const log = options.logger;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') {
        log?.info({ nats: status.type, server: 'server' in status ? status.server : undefined }, `nats ${status.type}`);
      }
    }
  })();
  void nc.closed().then((error) => {
    if (closingOnPurpose.has(nc)) return;
    const err = error instanceof Error ? error : undefined;
    if (options.onClosedForGood) {
      options.onClosedForGood(err);
      return;
    }
    log?.error({ err }, 'nats connection closed for good; exiting so the supervisor restarts us');
    process.exit(70);
  });
  return nc;
}

/** Drains (finishes in-flight work, flushes publishes) and closes without triggering the exit. */
export async function closeNats(nc: NatsConnection): Promise<void> {
  closingOnPurpose.add(nc);
  if (nc.isClosed()) return;
  await nc.drain();
}
