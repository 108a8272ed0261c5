import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { healthSubject, newEvent, type Envelope } from '@autoheal/contracts';
import { HealthPublish } from './health-publish.js';

export interface ExitedInstance {
  tenantId: string;
  service: string;
  instance: string;
  /** The exit code, or null when a signal ended the process. */
  exitCode: number | null;
  /** The signal that ended the process (`SIGKILL`), or null. */
  signal: string | null;
  /** The agent already switched the instance to a warm spare under this armed switchover's remediation id. */
  switchedUnderArm?: string;
  /** The agent already restarted the instance (no spare was ready) under this armed switchover's remediation id. */
  restartedUnderArm?: string;
}

export interface ExitReporterOptions {
  /** `producer` field of the envelopes, e.g. `agent/<host>`. */
  producer: string;
  /** How long to wait for the stream's acknowledgement; default 2000 ms. */
  publishTimeoutMs?: number;
  /** Time source for `occurredAt`; tests move it. */
  now?: () => Date;
}

/**
 * For a process supervisor (systemd unit, container runtime hook, our demo agent): tells autoheal
 * the moment an instance's process ends, as `health.exited` on the instance's health subject. The
 * detector opens a `crashed` incident from this event at once instead of waiting out heartbeat
 * deadlines; an instance that announced a planned stop (`health.stopping`) opens nothing.
 *
 * Uses the caller's connection: a supervisor already holds one, and the event must leave even when
 * the instance's own connection died with it.
 */
export class ExitReporter {
  private readonly out: HealthPublish;
  private readonly timeoutMs: number;
  private readonly now: () => Date;

  constructor(
    nc: NatsConnection,
    private readonly options: ExitReporterOptions,
  ) {
    this.out = new HealthPublish(jetstream(nc));
    this.timeoutMs = options.publishTimeoutMs ?? 2000;
    this.now = options.now ?? (() => new Date());
  }

  /** Publishes with a `Nats-Msg-Id` no other producer can claim first; resolves once the stream stored it, rejects otherwise. */
  async report(exit: ExitedInstance): Promise<Envelope<'health.exited'>> {
    // healthSubject refuses tokens with dots, spaces or wildcards before anything is sent.
    const subject = healthSubject(exit.tenantId, exit.service, exit.instance);
    const event = newEvent('health.exited', {
      tenantId: exit.tenantId,
      producer: this.options.producer,
      occurredAt: this.now(),
      data: { service: exit.service, instance: exit.instance, exitCode: exit.exitCode, signal: exit.signal, observedBy: 'agent', ...(exit.switchedUnderArm ? { switchedUnderArm: exit.switchedUnderArm } : {}), ...(exit.restartedUnderArm ? { restartedUnderArm: exit.restartedUnderArm } : {}) },
    });
    await this.out.publish(subject, event, this.timeoutMs);
    return event;
  }
}
