import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import { parseEnvelope, type EventOf } from '@autoheal/contracts';
import { MAX_EVENTS_PER_REQUEST } from './ingest-validation.js';
import type { IngestViolation } from './ingest.errors.js';

/** Alertmanager's "zero" endsAt of an alert that is still firing. */
const GO_ZERO_TIME = /^0001-01-01T00:00:00/;

const timestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be an RFC 3339 timestamp');

const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: timestamp,
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).max(200),
});

/** Alertmanager webhook payload, version 4. Extra fields are ignored (Alertmanager adds some over time). */
export const alertmanagerPayload = z.object({
  version: z.literal('4'),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: z.record(z.string(), z.string()).optional(),
  commonLabels: z.record(z.string(), z.string()).optional(),
  commonAnnotations: z.record(z.string(), z.string()).optional(),
  externalURL: z.string().optional(),
  alerts: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_REQUEST),
});

/** Instance token of an alert without an `instance` label: the alert is about the service as a whole. */
export const SERVICE_WIDE_INSTANCE = '_service';

/**
 * Turns a label value into a subject token: every character outside `A-Z a-z 0-9 _ -` becomes
 * `-` (`10.0.0.7:9100` → `10-0-0-7-9100`); a value longer than 64 keeps its first 55 characters
 * and a short hash of the whole, so two long values stay apart.
 */
export function labelToToken(value: string): string | null {
  const replaced = value.trim().replace(/[^A-Za-z0-9_-]/g, '-');
  if (replaced.length === 0) return null;
  if (replaced.length <= 64) return replaced;
  return `${replaced.slice(0, 55)}-${createHash('sha256').update(value).digest('hex').slice(0, 8)}`;
}

/**
 * A UUIDv7 whose time is the alert's own time and whose other bits come from a keyed hash of
 * (tenant, fingerprint, status, time): Alertmanager re-sends a notification it believes failed,
 * and the re-sent alert gets the same id, so JetStream stores it once. Keyed (`idKey`, a secret
 * of the detector's), because fingerprints and times are no secret: anyone who could compute
 * the id could send an event with it first and have the real alert deduplicated away.
 */
export function alertEventId(idKey: Buffer, tenantId: string, fingerprint: string, status: string, at: Date): string {
  const hash = createHmac('sha256', idKey).update(`${tenantId}\0${fingerprint}\0${status}\0${at.toISOString()}`).digest();
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(Math.max(0, at.getTime()) % 2 ** 48, 0, 6);
  hash.copy(bytes, 6, 0, 10);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface MappedAlert {
  event: EventOf<'health.alert'>;
  index: number;
}

export interface RejectedAlert {
  violation: IngestViolation;
  raw: unknown;
}

export type AlertmanagerMapping = { ok: true; events: MappedAlert[]; rejected: RejectedAlert[] } | { ok: false; violation: IngestViolation };

function zodViolation(error: z.ZodError, prefix: string, index: number | null): IngestViolation {
  const issue = error.issues[0];
  const field = [prefix, ...issue.path.map(String)].filter((p) => p.length > 0).join('.') || '(root)';
  return { index, field, message: `${field}: ${issue.message}` };
}

/**
 * Maps an Alertmanager v4 webhook to one `health.alert` per alert. `service` comes from the
 * `service` label, else `job`; `instance` from the `instance` label (else `_service`); both
 * through `labelToToken`. A firing alert is a health signal, a resolved one its recovery.
 */
export function mapAlertmanagerPayload(tenantId: string, body: unknown, receivedAt: Date, idKey: Buffer): AlertmanagerMapping {
  const payload = alertmanagerPayload.safeParse(body);
  if (!payload.success) return { ok: false, violation: zodViolation(payload.error, '', null) };
  const producer = `alertmanager/${payload.data.receiver}`.slice(0, 200);
  const events: MappedAlert[] = [];
  const rejected: RejectedAlert[] = [];
  payload.data.alerts.forEach((raw, index) => {
    const prefix = `alerts.${index}`;
    const reject = (field: string, message: string) =>
      rejected.push({ raw, violation: { index, field: `${prefix}.${field}`, message: `${prefix}.${field}: ${message}` } });
    const alert = alertSchema.safeParse(raw);
    if (!alert.success) {
      rejected.push({ raw, violation: zodViolation(alert.error, prefix, index) });
      return;
    }
    const { labels, annotations, status, fingerprint } = alert.data;
    const serviceLabel = labels.service ?? labels.job;
    if (serviceLabel === undefined) return reject('labels.service', 'an alert needs a service or job label');
    const service = labelToToken(serviceLabel);
    if (service === null) return reject(labels.service === undefined ? 'labels.job' : 'labels.service', 'must not be empty');
    const instance = labels.instance === undefined ? SERVICE_WIDE_INSTANCE : labelToToken(labels.instance);
    if (instance === null) return reject('labels.instance', 'must not be empty');
    const alertname = labels.alertname;
    if (alertname === undefined || alertname.length === 0 || alertname.length > 200) return reject('labels.alertname', 'must be 1-200 characters');
    const startsAt = new Date(alert.data.startsAt);
    const endsAtRaw = alert.data.endsAt;
    let endsAt: Date | undefined;
    if (endsAtRaw !== undefined && !GO_ZERO_TIME.test(endsAtRaw)) {
      endsAt = new Date(endsAtRaw);
      if (Number.isNaN(endsAt.getTime())) return reject('endsAt', 'must be an RFC 3339 timestamp');
    }
    const signalAt = status === 'resolved' && endsAt ? endsAt : startsAt;
    const candidate = {
      id: alertEventId(idKey, tenantId, fingerprint, status, signalAt),
      type: 'health.alert',
      version: 1,
      tenantId,
      occurredAt: receivedAt.toISOString(),
      producer,
      correlationId: null,
      causationId: null,
      data: {
        service,
        instance,
        alertname,
        status,
        ...(labels.severity === undefined ? {} : { severity: labels.severity.slice(0, 50) }),
        fingerprint,
        startsAt: startsAt.toISOString(),
        ...(endsAt === undefined ? {} : { endsAt: endsAt.toISOString() }),
        labels,
        annotations,
      },
    };
    const parsed = parseEnvelope(candidate);
    if (!parsed.ok) return reject(parsed.error.field, parsed.error.message.slice(parsed.error.field.length + 2));
    events.push({ event: parsed.value as EventOf<'health.alert'>, index });
  });
  return { ok: true, events, rejected };
}
