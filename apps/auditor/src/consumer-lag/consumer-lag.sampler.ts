import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { STREAMS } from '@autoheal/contracts';
import { NATS_CONNECTION, type RunConsumerSpec } from '@autoheal/messaging';
import { createLogger } from '@autoheal/telemetry';
import { AUDIT_CONSUMERS } from '../audit-log/audit-log.consumers.js';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { consumerLag, lagSeconds } from './consumer-lag.js';

const log = createLogger('auditor');

/** One consumer's figures, as the gauges show them. */
export interface LagSample {
  stream: string;
  consumer: string;
  unacknowledged: number;
  lagSeconds: number;
  streamMaxAgeSeconds: number;
}

/**
 * Every AUDITOR_LAG_SAMPLE_INTERVAL_MS, reads each audit consumer's position (consumer info:
 * pending, ack pending, ack floor) and the time its oldest owed message was stored, and sets
 * `autoheal_auditor_consumer_lag_seconds`, `…_unacknowledged_messages` and the stream's
 * `autoheal_auditor_stream_max_age_seconds`. Read from JetStream, not counted in the process: a
 * stopped auditor's lag keeps growing there, and any running replica reports it.
 */
@Injectable()
export class ConsumerLagSampler implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private jsm: JetStreamManager | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
  ) {}

  onApplicationBootstrap(): void {
    const intervalMs = this.config.AUDITOR_LAG_SAMPLE_INTERVAL_MS;
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sample of every audit consumer; a consumer that cannot be read is counted and left as it was. */
  async sample(consumers: readonly RunConsumerSpec[] = AUDIT_CONSUMERS): Promise<LagSample[]> {
    this.jsm ??= await jetstreamManager(this.nc);
    const samples: LagSample[] = [];
    for (const spec of consumers) {
      const stream = STREAMS[spec.stream].name;
      try {
        samples.push(await this.sampleOne(this.jsm, stream, spec.durable));
      } catch (error) {
        auditorMetrics.lagSampleFailures.inc({ stream, consumer: spec.durable });
        log.warn({ err: error, stream, consumer: spec.durable }, 'could not sample the audit consumer lag');
      }
    }
    for (const s of samples) {
      const labels = { stream: s.stream, consumer: s.consumer };
      auditorMetrics.consumerLag.set(labels, s.lagSeconds);
      auditorMetrics.consumerUnacknowledged.set(labels, s.unacknowledged);
      auditorMetrics.streamMaxAge.set({ stream: s.stream }, s.streamMaxAgeSeconds);
    }
    return samples;
  }

  private async sampleOne(jsm: JetStreamManager, stream: string, consumer: string): Promise<LagSample> {
    const [info, streamInfo] = await Promise.all([jsm.consumers.info(stream, consumer), jsm.streams.info(stream)]);
    const now = this.clock.now();
    const { unacknowledged, oldestSeq } = consumerLag({
      numPending: info.num_pending,
      numAckPending: info.num_ack_pending,
      ackFloorStreamSeq: info.ack_floor.stream_seq,
      streamFirstSeq: streamInfo.state.first_seq,
    });
    // A deleted message in between (none are deleted on these streams) reads as no message: the
    // lag is then reported from the next sample, not guessed.
    const oldest = oldestSeq === null ? null : await jsm.streams.getMessage(stream, { seq: oldestSeq });
    if (oldestSeq !== null && oldest === null) throw new Error(`message ${oldestSeq} of ${stream} could not be read`);
    return {
      stream,
      consumer,
      unacknowledged,
      lagSeconds: lagSeconds(now, oldest?.time ?? null),
      // max_age is in nanoseconds; 0 means the stream keeps messages for ever.
      streamMaxAgeSeconds: streamInfo.config.max_age / 1e9,
    };
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.sample();
    } catch (error) {
      log.warn({ err: error }, 'audit consumer lag sample failed; retrying next interval');
    } finally {
      this.running = false;
    }
  }
}
