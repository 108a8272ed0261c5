import { Inject, Injectable } from '@nestjs/common';
import { context, propagation, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';
import { DataSource, type EntityManager } from 'typeorm';
import { newEvent, newEventId, type Envelope, type EventData } from '@autoheal/contracts';
import { ATTR_INCIDENT_ID, ATTR_TENANT_ID, contextFromCarrier, OutboxPublisher } from '@autoheal/messaging';
import { outboxRowsStored, tracedOutboxBatch, type OutboxBatch } from '@autoheal/persistence';
import { CLOCK, type Clock } from '../clock.js';
import { DETECTOR_SCHEMA } from '../data-source.js';
import { incidentsRepository, type IncidentResolution, type IncidentUpdate, type NewIncidentRow, type OpenIncidentRow } from './incidents.repository.js';
import type { IncidentCommand, IncidentFlags } from './lifecycle/lifecycle.types.js';

export const DETECTOR_PRODUCER = 'detector';
const tracer = trace.getTracer('autoheal-detector');

type OpenCommand = Extract<IncidentCommand, { type: 'open' }>;
type UpdateCommand = Extract<IncidentCommand, { type: 'update' }>;

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

/** A change to an incident and the event announcing it, continuing the incident's trace. */
interface Announced<T> {
  change: T;
  event: Envelope;
  span: Span;
}

/**
 * Opens, updates and resolves incidents: the rows and their events commit in one transaction
 * (outbox), and the database refuses a second open incident for the same fingerprint. Each
 * write takes a list: a burst of changes to different incidents (a timer firing that finds
 * several deadlines passed) is one statement, however long the list.
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
   * Runs `work` in one transaction whose events are published right after commit: all the
   * changes passed its manager commit together (one pool connection, one commit for a burst).
   */
  together<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.outbox.transaction(work);
  }

  /**
   * Opens an incident per command (their fingerprints distinct), or adopts the incident already
   * open for the fingerprint; results in the commands' order.
   */
  async openAll(commands: readonly OpenCommand[], m: EntityManager): Promise<OpenResult[]> {
    const now = this.clock.now();
    const announced = commands.map((command): Announced<NewIncidentRow> => {
      // A new incident starts a new trace: everything downstream (plan, restart, audit) joins it.
      const { tenantId, service, instance, kind } = command.target;
      const incidentId = newEventId(now.getTime());
      // The root of the incident's trace carries its id: a trace backend finds the trace by it.
      const span = tracer.startSpan(
        'incident.detect',
        { root: true, attributes: { [ATTR_INCIDENT_ID]: incidentId, [ATTR_TENANT_ID]: tenantId, 'autoheal.service': service, 'autoheal.instance': instance, 'autoheal.incident.kind': kind } },
        ROOT_CONTEXT,
      );
      const traceContext: Record<string, string> = {};
      propagation.inject(trace.setSpan(ROOT_CONTEXT, span), traceContext);
      const row: NewIncidentRow = {
        ...command.target,
        incidentId,
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
          detectionLatencyMs: latencyMs(command, now),
          evidence: { ...row.evidence, ruleKey: row.ruleKey },
          ...flagsData(command.flags),
        },
      });
      return { change: row, event, span };
    });
    const inserted = await this.write(m, announced, (rows, announce) => incidentsRepository.insertOpen(m, rows, announce));
    const clashed = commands.filter((_, i) => !inserted.has(announced[i].change.incidentId)).map((c) => c.fingerprint);
    const existing = new Map(clashed.length === 0 ? [] : (await incidentsRepository.findOpenByFingerprints(m, clashed)).map((r) => [r.fingerprint, r]));
    return announced.map(({ change: row }, i): OpenResult => {
      const detectionLatencyMs = latencyMs(commands[i], now);
      if (inserted.has(row.incidentId)) return { row, opened: true, detectionLatencyMs };
      const adopted = existing.get(row.fingerprint);
      if (!adopted) throw new Error(`incident ${row.fingerprint} neither inserted nor open`);
      return { row: adopted, opened: false, detectionLatencyMs };
    });
  }

  /** Publishes new severity, evidence or flags of still-open incidents, each in its trace; per item, false when it was no longer open. */
  async updateAll(items: readonly { incident: OpenIncidentRow; command: UpdateCommand }[], m: EntityManager): Promise<boolean[]> {
    const now = this.clock.now();
    const announced = items.map(({ incident, command }): Announced<IncidentUpdate> => ({
      change: {
        incidentId: incident.incidentId,
        severity: command.severity,
        evidence: command.evidence,
        flapping: command.flags.flapping,
        suspectedCause: command.flags.suspectedCause,
        members: command.flags.members,
        updatedAt: now,
      },
      event: incidentEvent('incident.updated', incident, now, {
        severity: command.severity,
        evidence: { ...command.evidence, ruleKey: incident.ruleKey },
        ...flagsData(command.flags),
      }),
      span: spanInTrace(incident, 'incident.update'),
    }));
    const updated = await this.write(m, announced, (changes, announce) => incidentsRepository.update(m, changes, announce));
    return items.map(({ incident }) => updated.has(incident.incidentId));
  }

  /** Resolves incidents that are still open, each inside its own trace; per item, true when this call resolved it. */
  async resolveAll(items: readonly { incident: OpenIncidentRow; reason: string }[], m: EntityManager): Promise<boolean[]> {
    const now = this.clock.now();
    const announced = items.map(({ incident, reason }): Announced<IncidentResolution> => ({
      change: { incidentId: incident.incidentId, resolvedAt: now, reason },
      event: incidentEvent('incident.resolved', incident, now, {
        resolvedAt: now.toISOString(),
        reason: reason.slice(0, 500),
        durationMs: Math.max(0, now.getTime() - incident.openedAt.getTime()),
      }),
      span: spanInTrace(incident, 'incident.resolve'),
    }));
    const resolved = await this.write(m, announced, (resolutions, announce) => incidentsRepository.markResolved(m, resolutions, announce));
    return items.map(({ incident }) => resolved.has(incident.incidentId));
  }

  findOpen(): Promise<OpenIncidentRow[]> {
    return incidentsRepository.findOpen(this.db.manager);
  }

  /**
   * Runs one repository write for all the changes, inside their span (one change) or a span
   * linked to all of theirs (a burst), and hands the outbox rows of the changes it made on to
   * be published after commit.
   */
  private async write<T extends { incidentId: string }>(
    m: EntityManager,
    announced: readonly Announced<T>[],
    store: (changes: T[], announce: OutboxBatch) => Promise<Set<string>>,
  ): Promise<Set<string>> {
    const announce = tracedOutboxBatch(announced.map(({ event, span }) => ({ event, context: trace.setSpan(ROOT_CONTEXT, span) })));
    const spans = announced.map((a) => a.span);
    const around =
      spans.length === 1
        ? spans[0]
        : tracer.startSpan('incident.write', { root: true, links: spans.map((s) => ({ context: s.spanContext() })), attributes: { 'autoheal.incidents': spans.length } }, ROOT_CONTEXT);
    try {
      const changed = await context.with(trace.setSpan(ROOT_CONTEXT, around), () =>
        store(
          announced.map((a) => a.change),
          announce,
        ),
      );
      await outboxRowsStored(
        m,
        DETECTOR_SCHEMA,
        announce.rows.filter((_, i) => changed.has(announced[i].change.incidentId)),
      );
      return changed;
    } finally {
      if (around !== spans[0]) around.end();
      for (const span of spans) span.end();
    }
  }
}

function latencyMs(command: OpenCommand, now: Date): number {
  return Math.max(0, now.getTime() - command.signalAt);
}

/** An event about an open incident, with the fields every such event carries. */
function incidentEvent<T extends 'incident.updated' | 'incident.resolved'>(
  type: T,
  incident: OpenIncidentRow,
  now: Date,
  rest: Omit<EventData<T>, 'incidentId' | 'service' | 'instance' | 'kind'>,
): Envelope<T> {
  const { incidentId, service, instance, kind } = incident;
  // The spread of `rest` loses T for the compiler; newEvent validates the result against the contract.
  const data = { incidentId, service, instance, kind, ...rest } as EventData<T>;
  return newEvent(type, { tenantId: incident.tenantId, producer: DETECTOR_PRODUCER, correlationId: incidentId, occurredAt: now, data });
}

/** A span in the incident's own trace, so its update or resolution joins what its detection started. */
function spanInTrace(incident: OpenIncidentRow, name: string): Span {
  const parent: Context = contextFromCarrier(incident.traceContext);
  return tracer.startSpan(name, { attributes: { [ATTR_INCIDENT_ID]: incident.incidentId, [ATTR_TENANT_ID]: incident.tenantId } }, parent);
}
