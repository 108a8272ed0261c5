import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { assertSubjectToken, healthSubject, newEvent, type Envelope, type EventType, type MetricSample } from '@autoheal/contracts';
import { natsCredentialOptions, type NatsCredentials } from './credentials.js';
import { CustomChecks, type CheckFn } from './custom-checks.js';
import { HealthPublish } from './health-publish.js';
import { RequestWindow } from './request-window.js';
import { ProcessSaturation } from './saturation.js';
import { SampleBuffer } from './sample-buffer.js';
import { singleFlight } from './single-flight.js';

export interface HealthReporterOptions extends NatsCredentials {
  /** NATS server URL(s), e.g. `tls://nats.example:4222` (with `tlsCaFile`) or `nats://127.0.0.1:4222`. */
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
  /** How long to wait for the stream's acknowledgement of one publish; defaults to max(2000, intervalMs) (metrics: max(2000, metricsIntervalMs)). */
  publishTimeoutMs?: number;
  /**
   * Called for every failed publish. Without it, the reporter writes one line to stderr when a
   * streak of failures begins and when publishing recovers, so an outage does not flood the log.
   */
  onError?: (error: Error, context: HealthReportFailure) => void;
  /** Time source for `occurredAt`; tests move it. */
  now?: () => Date;
  /** Send `health.metrics` samples (requests, errors, latency, saturation, checks); default true. */
  metrics?: boolean;
  /** Length of one metrics window (one sample); default 5000 ms, 100 … 3600000. */
  metricsIntervalMs?: number;
  /** Memory the process may use (container limit), reported beside RSS so a leak can be judged. */
  memoryLimitBytes?: number;
  /** Samples kept while NATS is unreachable; the oldest are dropped past it. Default 1000. */
  maxBufferedSamples?: number;
  /** Time one custom check may take; default min(2000, metricsIntervalMs). */
  checkTimeoutMs?: number;
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
  /** Metric samples taken (one per window). */
  samples: number;
  /** Samples the stream acknowledged (in `health.metrics` batches of up to 100). */
  samplesPublished: number;
  /** Samples waiting to be sent (while NATS is unreachable). */
  samplesBuffered: number;
  /** Samples dropped because the buffer was full. */
  samplesDropped: number;
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
  credentials: NatsCredentials;
  tenantId: string;
  service: string;
  instance: string;
  intervalMs: number;
  name: string;
  producer: string;
  publishTimeoutMs: number;
  metricsPublishTimeoutMs: number;
  onError?: HealthReporterOptions['onError'];
  now: () => Date;
  metrics: boolean;
  metricsIntervalMs: number;
  memoryLimitBytes?: number;
  checkTimeoutMs: number;
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
  private out: HealthPublish | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private sequence = 0;
  private consecutiveFailures = 0;
  private stopping: Promise<void> | undefined;
  private readonly counters = { heartbeats: 0, published: 0, failed: 0, skipped: 0, samples: 0, samplesPublished: 0 };
  private readonly requests = new RequestWindow();
  private readonly checks = new CustomChecks();
  private readonly buffer: SampleBuffer;
  private saturation: ProcessSaturation | undefined;
  private metricsTimer: NodeJS.Timeout | undefined;
  private windowStartMs = 0;
  private collecting: Promise<void> | undefined;
  /**
   * Sends what the buffer holds. One send at a time: a call during a send shares it, and that
   * send's loop also takes the samples buffered meanwhile.
   */
  private readonly flush = singleFlight(() => this.sendBuffered());
  /** The batch whose publish failed last, resent as it is before anything newer. */
  private unacknowledged: Envelope<'health.metrics'> | undefined;
  /** False between a disconnect and the reconnect: samples wait in the buffer meanwhile. */
  private connected = false;

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
    const metricsIntervalMs = options.metricsIntervalMs ?? 5000;
    if (!Number.isInteger(metricsIntervalMs) || metricsIntervalMs < MIN_INTERVAL_MS || metricsIntervalMs > 3_600_000) {
      throw new RangeError(`metricsIntervalMs must be an integer between ${MIN_INTERVAL_MS} and 3600000, got ${metricsIntervalMs}`);
    }
    if (options.memoryLimitBytes !== undefined && !(Number.isInteger(options.memoryLimitBytes) && options.memoryLimitBytes > 0)) {
      throw new RangeError(`memoryLimitBytes must be a positive integer, got ${options.memoryLimitBytes}`);
    }
    this.buffer = new SampleBuffer(options.maxBufferedSamples ?? 1000);
    this.options = {
      servers: options.servers,
      credentials: { nkeySeedFile: options.nkeySeedFile, tlsCaFile: options.tlsCaFile },
      tenantId,
      service,
      instance,
      intervalMs,
      name: options.name ?? `health:${tenantId}/${service}/${instance}`,
      producer,
      publishTimeoutMs: options.publishTimeoutMs ?? Math.max(2000, intervalMs),
      // A lost acknowledgement must not hold the sample buffer much longer than a window.
      metricsPublishTimeoutMs: options.publishTimeoutMs ?? Math.max(2000, metricsIntervalMs),
      onError: options.onError,
      now: options.now ?? (() => new Date()),
      metrics: options.metrics ?? true,
      metricsIntervalMs,
      memoryLimitBytes: options.memoryLimitBytes,
      checkTimeoutMs: options.checkTimeoutMs ?? Math.min(2000, metricsIntervalMs),
    };
    this.subject = healthSubject(tenantId, service, instance);
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  get stats(): Readonly<HealthReporterStats> {
    return { ...this.counters, samplesBuffered: this.buffer.size + (this.unacknowledged?.data.samples.length ?? 0), samplesDropped: this.buffer.dropped };
  }

  /**
   * Counts one request the host served, for the current metrics window: its latency and
   * whether it succeeded (typically: status < 500). Cheap enough for every request.
   */
  recordRequest(latencyMs: number, ok: boolean): void {
    this.requests.record(latencyMs, ok);
  }

  /**
   * A named check (a subject token, e.g. `database`) run once per metrics window; it fails when
   * it resolves false, throws or takes longer than `checkTimeoutMs`. Registering a name again
   * replaces the check.
   */
  registerCheck(name: string, check: CheckFn): void {
    this.checks.register(name, check);
  }

  unregisterCheck(name: string): void {
    this.checks.unregister(name);
  }

  /** Connects and starts the heartbeat. Called by `connect`; call it yourself only after `new`. */
  async start(): Promise<void> {
    if (this.started) throw new Error('HealthReporter already started');
    this.started = true;
    const nc = await connect({
      ...natsCredentialOptions(this.options.credentials),
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
    this.out = new HealthPublish(jetstream(nc));
    this.connected = true;
    void this.watchConnection(nc);
    this.beat();
    if (this.options.metrics) {
      this.windowStartMs = this.options.now().getTime();
      this.saturation = new ProcessSaturation(() => this.options.now().getTime(), this.options.memoryLimitBytes);
      this.scheduleMetrics();
    }
  }

  private async watchConnection(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') this.connected = false;
      if (status.type === 'reconnect') {
        this.connected = true;
        // Whatever piled up during the outage goes out now, not at the next window.
        void this.flush();
      }
    }
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
    if (this.metricsTimer) clearTimeout(this.metricsTimer);
    this.metricsTimer = undefined;
    if (!this.nc) return;
    await Promise.allSettled([...this.inFlight]);
    if (this.saturation) {
      // The last, partial window is reported too: the requests of a process's final seconds count.
      await this.collecting;
      await this.collect();
      await this.flush();
      this.saturation.close();
    }
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
    const pending = this.publish(event)
      .then(() => undefined)
      .finally(() => this.inFlight.delete(pending));
    this.inFlight.add(pending);
  }

  private scheduleMetrics(): void {
    this.metricsTimer = setTimeout(() => {
      if (this.stopping) return;
      this.scheduleMetrics();
      // A window whose checks are still running is not overlapped by the next one.
      this.collecting ??= this.collect().finally(() => (this.collecting = undefined));
    }, this.options.metricsIntervalMs);
    this.metricsTimer.unref();
  }

  /** Closes the current window into one sample, buffers it and sends what the buffer holds. */
  private async collect(): Promise<void> {
    const end = this.options.now();
    const requests = this.requests.drain();
    const saturation = this.saturation!.read();
    const windowMs = Math.min(3_600_000, Math.max(1, end.getTime() - this.windowStartMs));
    this.windowStartMs = end.getTime();
    const checks = this.checks.size > 0 ? await this.checks.run(this.options.checkTimeoutMs) : [];
    const sample: MetricSample = { at: end.toISOString(), windowMs, ...requests, ...saturation, ...(checks.length > 0 ? { checks } : {}) };
    this.buffer.push(sample);
    this.counters.samples += 1;
    await this.flush();
  }

  /**
   * Sends buffered samples in batches of up to 100 while connected. A batch whose publish failed is
   * retried as the same event (same id): when the stream stored it but the acknowledgement was lost,
   * `Nats-Msg-Id` makes the retry a no-op instead of counting those requests and errors twice.
   */
  private async sendBuffered(): Promise<void> {
    while (this.connected && (this.unacknowledged !== undefined || this.buffer.size > 0)) {
      const event = this.unacknowledged ?? this.batchEvent(this.buffer.take());
      if (event === undefined) continue;
      if (await this.publish(event)) {
        this.unacknowledged = undefined;
        this.counters.samplesPublished += event.data.samples.length;
      } else {
        this.unacknowledged = event;
        break;
      }
    }
  }

  private batchEvent(batch: MetricSample[]): Envelope<'health.metrics'> | undefined {
    try {
      return newEvent('health.metrics', {
        tenantId: this.options.tenantId,
        producer: this.options.producer,
        data: { service: this.options.service, instance: this.options.instance, samples: batch },
        occurredAt: this.options.now(),
      });
    } catch (error) {
      // A sample the contract rejects would block the buffer forever: report and drop it.
      this.reportFailure(error as Error, { type: 'health.metrics', eventId: '-', consecutiveFailures: this.consecutiveFailures });
      return undefined;
    }
  }

  /** Publishes with a `Nats-Msg-Id` of this reporter's own (HealthPublish), so a retried publish is stored once. True when acknowledged. */
  private async publish(event: Envelope<'health.heartbeat' | 'health.stopping' | 'health.metrics'>): Promise<boolean> {
    try {
      await this.out!.publish(this.subject, event, event.type === 'health.metrics' ? this.options.metricsPublishTimeoutMs : this.options.publishTimeoutMs);
      this.counters.published += 1;
      if (this.consecutiveFailures > 0 && !this.options.onError) {
        process.stderr.write(
          `[autoheal-sdk] ${this.subject}: publishing again after ${this.consecutiveFailures} failed attempt(s)\n`,
        );
      }
      this.consecutiveFailures = 0;
      return true;
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause));
      this.counters.failed += 1;
      this.consecutiveFailures += 1;
      this.reportFailure(error, { type: event.type, eventId: event.id, consecutiveFailures: this.consecutiveFailures });
      return false;
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
