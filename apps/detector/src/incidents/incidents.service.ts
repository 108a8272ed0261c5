import { Inject, Injectable } from '@nestjs/common';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { DataSource } from 'typeorm';
import { newEvent, newEventId, type IncidentSeverity } from '@autoheal/contracts';
import { contextFromCarrier } from '@autoheal/messaging';
import { appendToOutbox } from '@autoheal/persistence';
import { CLOCK, type Clock } from '../clock.js';
import type { MissedHeartbeat } from '../heartbeat/heartbeat-tracker.js';
import { incidentsRepository, type OpenIncidentRow } from './incidents.repository.js';

export const DETECTOR_PRODUCER = 'detector';
const tracer = trace.getTracer('autoheal-detector');

/** Severity of a hang: every instance of a tenant's API answers its users, so a hang is major by default. */
export function severityForMissedHeartbeat(missed: MissedHeartbeat): IncidentSeverity {
  return missed.missedIntervals >= 10 ? 'critical' : 'major';
}

/**
 * Opens and resolves incidents: the row and its event commit in one transaction (outbox),
 * and the database refuses a second open incident for the same instance.
 */
@Injectable()
export class IncidentsService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Returns the opened incident, or null when one was already open. */
  async openForMissedHeartbeat(missed: MissedHeartbeat): Promise<OpenIncidentRow | null> {
    // A new incident starts a new trace: everything downstream (plan, restart, audit) joins it.
    const span = tracer.startSpan('incident.detect', { root: true, attributes: { 'autoheal.tenant': missed.target.tenantId, 'autoheal.instance': missed.target.instance } }, ROOT_CONTEXT);
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    try {
      return await context.with(ctx, () => this.open(missed));
    } finally {
      span.end();
    }
  }

  private async open(missed: MissedHeartbeat): Promise<OpenIncidentRow | null> {
    const now = this.clock.now();
    const { target } = missed;
    const traceContext: Record<string, string> = {};
    propagation.inject(context.active(), traceContext);
    const row = {
      incidentId: newEventId(now.getTime()),
      tenantId: target.tenantId,
      service: target.service,
      instance: target.instance,
      kind: 'heartbeat_missed' as const,
      severity: severityForMissedHeartbeat(missed),
      signalAt: new Date(missed.deadlineAt),
      openedAt: now,
      traceContext,
      evidence: {
        lastHeartbeatAt: new Date(target.lastSeenAt).toISOString(),
        intervalMs: target.intervalMs,
        missedIntervals: missed.missedIntervals,
        deadlineAt: new Date(missed.deadlineAt).toISOString(),
      },
    };
    const opened = await this.db.transaction(async (m) => {
      if (!(await incidentsRepository.insertOpen(m, row))) return false;
      const event = newEvent('incident.opened', {
        tenantId: row.tenantId,
        producer: DETECTOR_PRODUCER,
        correlationId: row.incidentId,
        occurredAt: now,
        data: {
          incidentId: row.incidentId,
          service: row.service,
          instance: row.instance,
          kind: row.kind,
          severity: row.severity,
          signalAt: row.signalAt.toISOString(),
          detectedAt: now.toISOString(),
          detectionLatencyMs: Math.max(0, now.getTime() - missed.deadlineAt),
          evidence: row.evidence,
        },
      });
      await appendToOutbox(m, 'detector', [event]);
      return true;
    });
    return opened ? row : null;
  }

  /** Resolves it if still open, inside the incident's own trace. */
  async resolve(incident: OpenIncidentRow, reason: string): Promise<boolean> {
    const parent = contextFromCarrier(incident.traceContext);
    const span = tracer.startSpan('incident.resolve', { attributes: { 'autoheal.incident_id': incident.incidentId } }, parent);
    try {
      return await context.with(trace.setSpan(parent, span), async () => {
        const now = this.clock.now();
        return this.db.transaction(async (m) => {
          if (!(await incidentsRepository.markResolved(m, incident.incidentId, now, reason))) return false;
          const event = newEvent('incident.resolved', {
            tenantId: incident.tenantId,
            producer: DETECTOR_PRODUCER,
            correlationId: incident.incidentId,
            occurredAt: now,
            data: {
              incidentId: incident.incidentId,
              service: incident.service,
              instance: incident.instance,
              kind: incident.kind,
              resolvedAt: now.toISOString(),
              reason,
              durationMs: Math.max(0, now.getTime() - incident.openedAt.getTime()),
            },
          });
          await appendToOutbox(m, 'detector', [event]);
          return true;
        });
      });
    } finally {
      span.end();
    }
  }

  findOpen(): Promise<OpenIncidentRow[]> {
    return incidentsRepository.findOpen(this.db.manager);
  }
}
