import { Inject, Injectable } from '@nestjs/common';
import { context, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { DataSource, type EntityManager } from 'typeorm';
import { newEvent, newEventId } from '@autoheal/contracts';
import { contextFromCarrier, OutboxPublisher } from '@autoheal/messaging';
import { outboxBatch, outboxBatchStored } from '@autoheal/persistence';
import { CLOCK, type Clock } from '../clock.js';
import { incidentsRepository, type NewIncidentRow, type OpenIncidentRow } from './incidents.repository.js';
import type { IncidentCommand, IncidentFlags } from './lifecycle/lifecycle.types.js';

export const DETECTOR_PRODUCER = 'detector';
const tracer = trace.getTracer('autoheal-detector');

type OpenCommand = Extract<IncidentCommand, { type: 'open' }>;
type UpdateCommand = Extract<IncidentCommand, { type: 'update' }>;

/** More work for the incident's own transaction (e.g. recording which health event caused it): it commits with the incident or not at all. */
export type AlsoInTransaction = (m: EntityManager) => Promise<void>;

/** The optional flags as the contract carries them: absent means false / none. */
function flagsData(flags: IncidentFlags): { scope: 'instance' | 'service'; flapping?: true; suspectedCause?: 'detector_or_network'; members?: string[] } {
  return {
    scope: flags.scope,
    ...(flags.flapping ? { flapping: true as const } : {}),
    ...(flags.suspectedCause ? { suspectedCause: flags.suspectedCause } : {}),
    ...(flags.members ? { members: flags.members } : {}),
  };
}

export interface OpenResult {
  row: OpenIncidentRow;
  /** False when the database already held an open incident for the fingerprint (adopted, nothing published). */
  opened: boolean;
  /** signalAt → the moment the incident is written (its transaction then commits it and the outbox publishes it); the figure the event carries. */
  detectionLatencyMs: number;
}

/**
 * Opens, updates and resolves incidents: the row and its event commit in one transaction
 * (outbox), and the database refuses a second open incident for the same fingerprint.
 */
@Injectable()
export class IncidentsService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    // Its transactions publish their events right after commit instead of through the relay.
    private readonly outbox: OutboxPublisher,
  ) {}

  /**
   * Runs `work` in one transaction whose events are published right after commit: several
   * changes passed its manager commit together (one pool connection, one commit for a burst).
   */
  together<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.outbox.transaction(work);
  }

  /** Opens it, or returns the incident already open for the fingerprint; in `m`'s transaction when given, else its own. */
  async open(command: OpenCommand, also?: AlsoInTransaction, m?: EntityManager): Promise<OpenResult> {
    // A new incident starts a new trace: everything downstream (plan, restart, audit) joins it.
    const span = tracer.startSpan(
      'incident.detect',
      { root: true, attributes: { 'autoheal.tenant': command.target.tenantId, 'autoheal.instance': command.target.instance, 'autoheal.kind': command.target.kind } },
      ROOT_CONTEXT,
    );
    try {
      return await context.with(trace.setSpan(ROOT_CONTEXT, span), () => this.openInTrace(command, also, m));
    } finally {
      span.end();
    }
  }

  private async openInTrace(command: OpenCommand, also: AlsoInTransaction | undefined, outer: EntityManager | undefined): Promise<OpenResult> {
    const traceContext: Record<string, string> = {};
    propagation.inject(context.active(), traceContext);
    return this.inTransaction(outer, async (m) => {
      const now = this.clock.now();
      const row: NewIncidentRow = {
        ...command.target,
        incidentId: newEventId(now.getTime()),
        fingerprint: command.fingerprint,
        scope: command.flags.scope,
        severity: command.severity,
        signalAt: new Date(command.signalAt),
        openedAt: now,
        flapping: command.flags.flapping,
        suspectedCause: command.flags.suspectedCause,
        members: command.flags.members,
        traceContext,
        evidence: command.evidence,
      };
      const detectionLatencyMs = Math.max(0, now.getTime() - command.signalAt);
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
          detectionLatencyMs,
          evidence: { ...row.evidence, ruleKey: row.ruleKey },
          ...flagsData(command.flags),
        },
      });
      await also?.(m);
      const announce = outboxBatch([event]);
      if (!(await incidentsRepository.insertOpen(m, row, announce))) {
        const existing = await incidentsRepository.findOpenByFingerprint(m, command.fingerprint);
        if (!existing) throw new Error(`incident ${command.fingerprint} neither inserted nor open`);
        return { row: existing, opened: false, detectionLatencyMs };
      }
      await outboxBatchStored(m, 'detector', announce);
      return { row, opened: true, detectionLatencyMs };
    });
  }

  /** Publishes new severity, evidence or flags of a still-open incident, in its trace; false when it was no longer open. */
  async update(incident: OpenIncidentRow, command: UpdateCommand, also?: AlsoInTransaction, outer?: EntityManager): Promise<boolean> {
    return this.inIncidentTrace(incident, 'incident.update', () =>
      this.inTransaction(outer, async (m) => {
        const now = this.clock.now();
        const event = newEvent('incident.updated', {
          tenantId: incident.tenantId,
          producer: DETECTOR_PRODUCER,
          correlationId: incident.incidentId,
          occurredAt: now,
          data: {
            incidentId: incident.incidentId,
            service: incident.service,
            instance: incident.instance,
            kind: incident.kind,
            severity: command.severity,
            evidence: { ...command.evidence, ruleKey: incident.ruleKey },
            ...flagsData(command.flags),
          },
        });
        const announce = outboxBatch([event]);
        const change = {
          severity: command.severity,
          evidence: command.evidence,
          flapping: command.flags.flapping,
          suspectedCause: command.flags.suspectedCause,
          members: command.flags.members,
          updatedAt: now,
        };
        if (!(await incidentsRepository.update(m, incident.incidentId, change, announce))) return false;
        await also?.(m);
        await outboxBatchStored(m, 'detector', announce);
        return true;
      }),
    );
  }

  /** Resolves it if still open, inside the incident's own trace. */
  async resolve(incident: OpenIncidentRow, reason: string, also?: AlsoInTransaction, outer?: EntityManager): Promise<boolean> {
    return this.inIncidentTrace(incident, 'incident.resolve', () =>
      this.inTransaction(outer, async (m) => {
        const now = this.clock.now();
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
            reason: reason.slice(0, 500),
            durationMs: Math.max(0, now.getTime() - incident.openedAt.getTime()),
          },
        });
        const announce = outboxBatch([event]);
        if (!(await incidentsRepository.markResolved(m, incident.incidentId, now, reason, announce))) return false;
        await also?.(m);
        await outboxBatchStored(m, 'detector', announce);
        return true;
      }),
    );
  }

  findOpen(): Promise<OpenIncidentRow[]> {
    return incidentsRepository.findOpen(this.db.manager);
  }

  private inTransaction<T>(outer: EntityManager | undefined, work: (m: EntityManager) => Promise<T>): Promise<T> {
    return outer ? work(outer) : this.outbox.transaction(work);
  }

  private async inIncidentTrace<T>(incident: OpenIncidentRow, name: string, work: () => Promise<T>): Promise<T> {
    const parent: Context = contextFromCarrier(incident.traceContext);
    const span = tracer.startSpan(name, { attributes: { 'autoheal.incident_id': incident.incidentId } }, parent);
    try {
      return await context.with(trace.setSpan(parent, span), work);
    } finally {
      span.end();
    }
  }
}
