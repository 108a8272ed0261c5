import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { assertSubjectToken, healthSubject, newEvent, type Envelope, type EventType } from '@autoheal/contracts';

export interface HealthReporterOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  tenantId: string;
  service: string;
  instance: string;
  /** How often a heartbeat is sent; announced in every heartbeat so the detector knows when one is missing. */
  intervalMs?: number;
  /** NATS client name shown in server monitoring; defaults to `health:<tenant>/<service>/<instance>`. */
  name?: string;
  /** `producer` field of the envelopes; defaults to `<service>/<instance>`. */
  producer?: string;
  /** How long to wait for the stream's acknowledgement of one publish; defaults to max(2000, intervalMs). */
  publishTimeoutMs?: number;
  /**
   * Called for every failed publish. Without it, the reporter writes one line to stderr when a
   * streak of failures begins and when publishing recovers, so an outage does not flood the log.
   */
  onError?: (error: Error, context: HealthReportFailure) => void;
  /** Time source for `occurredAt`; tests move it. */
  now?: () => Date;
}

export interface HealthReportFailure {
  type: Extract<EventType, `health.${string}`>;
  eventId: string;
  /** Failures in a row, including this one. */
  consecutiveFailures: number;
}

export interface HealthReporterStats {
  /** Heartbeats built so far; the sequence number of the last one is `heartbeats - 1`. */
  heartbeats: number;
  /** Publishes the stream acknowledged (heartbeats and the stopping event). */
  published: number;
  /** Publishes that failed or timed out. */
  failed: number;
  /** Heartbeats not sent because too many earlier ones were still waiting for an acknowledgement. */
  skipped: number;
}

export const MIN_INTERVAL_MS = 100;
export const MAX_INTERVAL_MS = 600_000;

/**
 * Heartbeats still waiting for an acknowledgement before the next one is skipped. While NATS is
 * unreachable the client buffers publishes until their timeout; bounding them keeps memory flat.
 */
const MAX_IN_FLIGHT = 4;

interface ResolvedOptions {
  servers: string | string[];
  tenantId: string;
  service: string;
  instance: string;
  intervalMs: number;
  name: string;
  producer: string;
  publishTimeoutMs: number;
  onError?: HealthReporterOptions['onError'];
  now: () => Date;
}

/**
 * Reports the health of one instance of a tenant's service to autoheal: a `health.heartbeat`
 * every `intervalMs` on `health.<tenant>.<service>.<instance>`, and `health.stopping` on a planned
 * shutdown so that the stop opens no incident. Publishing problems never reach the host: they are
 * counted, reported through `onError` and retried by the next heartbeat.
 */
export class HealthReporter {
  /** Validates the options, connects (retrying until NATS answers) and sends the first heartbeat at once. */
  static async connect(options: HealthReporterOptions): Promise<HealthReporter> {
    const reporter = new HealthReporter(options);
    await reporter.start();
    return reporter;
  }

  readonly subject: string;
  private readonly options: ResolvedOptions;
  private started = false;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private sequence = 0;
  private consecutiveFailures = 0;
  private stopping: Promise<void> | undefined;
  private readonly counters: HealthReporterStats = { heartbeats: 0, published: 0, failed: 0, skipped: 0 };

  /** Throws `InvalidSubjectTokenError` for a tenant, service or instance that cannot be a subject token. */
  constructor(options: HealthReporterOptions) {
    const tenantId = assertSubjectToken('tenantId', options.tenantId);
    const service = assertSubjectToken('service', options.service);
    const instance = assertSubjectToken('instance', options.instance);
    const intervalMs = options.intervalMs ?? 1000;
    if (!Number.isInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) {
      throw new RangeError(`intervalMs must be an integer between ${MIN_INTERVAL_MS} and ${MAX_INTERVAL_MS}, got ${intervalMs}`);
    }
    const producer = options.producer ?? `${service}/${instance}`;
    if (producer.length < 1 || producer.length > 200) {
      // Checked here: an envelope the contract rejects would otherwise fail inside the timer.
      throw new RangeError(`producer must be 1-200 characters, got ${producer.length}`);
    }
    this.options = {
      servers: options.servers,
      tenantId,
      service,
      instance,
      intervalMs,
      name: options.name ?? `health:${tenantId}/${service}/${instance}`,
      producer,
      publishTimeoutMs: options.publishTimeoutMs ?? Math.max(2000, intervalMs),
      onError: options.onError,
      now: options.now ?? (() => new Date()),
    };
    this.subject = healthSubject(tenantId, service, instance);
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  get stats(): Readonly<HealthReporterStats> {
    return { ...this.counters };
  }

  /** Connects and starts the heartbeat. Called by `connect`; call it yourself only after `new`. */
  async start(): Promise<void> {
    if (this.started) throw new Error('HealthReporter already started');
    this.started = true;
    const nc = await connect({
      servers: this.options.servers,
      name: this.options.name,
      // A reporter must outlive any NATS outage: keep trying, also for the very first connection.
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
    });
    if (this.stopping) {
      // stop() was called while the first connection was still being made: nothing to announce.
      await nc.close();
      return;
    }
    this.nc = nc;
    this.js = jetstream(nc);
    this.beat();
  }

  /**
   * Stops heartbeating, sends `health.stopping` and drains the connection. Never rejects: a
   * failure to send is reported through `onError`. Calling it again returns the same promise.
   */
  stop(reason?: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string | undefined): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.nc) return;
    await Promise.allSettled([...this.inFlight]);
    const event = newEvent('health.stopping', {
      tenantId: this.options.tenantId,
      producer: this.options.producer,
      data: {
        service: this.options.service,
        instance: this.options.instance,
        ...(reason === undefined ? {} : { reason: reason.slice(0, 500) }),
      },
      occurredAt: this.options.now(),
    });
    await this.publish(event);
    try {
      await this.nc.drain();
    } catch {
      // Already closed: nothing left to flush.
    }
  }

  private beat(): void {
    if (this.stopping) return;
    // Scheduled before publishing so the cadence does not drift by the time an acknowledgement takes.
    this.timer = setTimeout(() => this.beat(), this.options.intervalMs);
    // The reporter alone should not keep its host alive.
    this.timer.unref();
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.counters.skipped += 1;
      return;
    }
    const event = newEvent('health.heartbeat', {
      tenantId: this.options.tenantId,
      producer: this.options.producer,
      data: {
        service: this.options.service,
        instance: this.options.instance,
        intervalMs: this.options.intervalMs,
        sequence: this.sequence++,
      },
      occurredAt: this.options.now(),
    });
    this.counters.heartbeats += 1;
    const pending = this.publish(event).finally(() => this.inFlight.delete(pending));
    this.inFlight.add(pending);
  }

  /** Publishes with the event id as `Nats-Msg-Id`, so a retried publish is stored once. */
  private async publish(event: Envelope<'health.heartbeat' | 'health.stopping'>): Promise<void> {
    try {
      await this.js!.publish(this.subject, JSON.stringify(event), {
        msgID: event.id,
        timeout: this.options.publishTimeoutMs,
      });
      this.counters.published += 1;
      if (this.consecutiveFailures > 0 && !this.options.onError) {
        process.stderr.write(
          `[autoheal-sdk] ${this.subject}: publishing again after ${this.consecutiveFailures} failed attempt(s)\n`,
        );
      }
      this.consecutiveFailures = 0;
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause));
      this.counters.failed += 1;
      this.consecutiveFailures += 1;
      this.reportFailure(error, { type: event.type, eventId: event.id, consecutiveFailures: this.consecutiveFailures });
    }
  }

  private reportFailure(error: Error, context: HealthReportFailure): void {
    if (this.options.onError) {
      try {
        this.options.onError(error, context);
      } catch {
        // A throwing callback must not turn a reporting problem into a host crash.
      }
      return;
    }
    if (context.consecutiveFailures === 1 || context.type === 'health.stopping') {
      process.stderr.write(`[autoheal-sdk] ${this.subject}: ${context.type} not published: ${error.message}\n`);
    }
  }
}
