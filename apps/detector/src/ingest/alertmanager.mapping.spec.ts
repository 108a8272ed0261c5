import { parseEnvelope, SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { alertEventId, labelToToken, mapAlertmanagerPayload, SERVICE_WIDE_INSTANCE } from './alertmanager.mapping.js';

/** The detector's id key (derived from its signing key in production). */
const KEY = Buffer.alloc(32, 1);

const receivedAt = new Date('2026-01-01T00:10:00Z');
const alert = (overrides: Record<string, unknown> = {}) => ({
  status: 'firing',
  labels: { alertname: 'HighErrorRate', job: 'api', instance: 'host-1:9100' },
  annotations: {},
  startsAt: '2026-01-01T01:00:00+01:00',
  endsAt: '0001-01-01T00:00:00Z',
  fingerprint: 'f1',
  ...overrides,
});
const payload = (alerts: unknown[]) => ({ version: '4', status: 'firing', receiver: 'autoheal', alerts });

describe('labelToToken', () => {
  it.each([
    ['patient-api', 'patient-api'],
    ['10.0.0.7:9100', '10-0-0-7-9100'],
    ['node exporter', 'node-exporter'],
    ['  ', null],
  ])('%j → %j', (value, token) => expect(labelToToken(value)).toBe(token));

  it('keeps long values apart and within 64 characters', () => {
    const a = labelToToken(`${'x'.repeat(80)}a`)!;
    const b = labelToToken(`${'x'.repeat(80)}b`)!;
    expect(a).not.toBe(b);
    expect([a, b].every((t) => SUBJECT_TOKEN_PATTERN.test(t))).toBe(true);
  });
});

describe('alertEventId', () => {
  it('is a valid, deterministic, time-ordered id', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const id = alertEventId(KEY, 'acme', 'f1', 'firing', at);
    expect(id).toBe(alertEventId(KEY, 'acme', 'f1', 'firing', at));
    expect(id).not.toBe(alertEventId(KEY, 'acme', 'f1', 'resolved', at));
    expect(id < alertEventId(KEY, 'acme', 'f1', 'firing', new Date(at.getTime() + 1))).toBe(true);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('cannot be computed from the alert alone: another key gives another id', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const other = Buffer.alloc(32, 7);
    expect(alertEventId(other, 'acme', 'f1', 'firing', at)).not.toBe(alertEventId(KEY, 'acme', 'f1', 'firing', at));
  });
});

describe('mapAlertmanagerPayload', () => {
  it('maps labels to service and instance, normalises times and yields valid envelopes', () => {
    const result = mapAlertmanagerPayload('acme', payload([alert(), alert({ status: 'resolved', labels: { alertname: 'X', service: 'svc', job: 'ignored' }, endsAt: '2026-01-01T00:05:00Z' })]), receivedAt, KEY);
    if (!result.ok) throw new Error(result.violation.message);
    expect(result.rejected).toEqual([]);
    const [firing, resolved] = result.events.map((m) => m.event);
    expect(firing.data).toMatchObject({ service: 'api', instance: 'host-1-9100', status: 'firing', startsAt: '2026-01-01T00:00:00.000Z' });
    expect(firing.data.endsAt).toBeUndefined();
    expect(resolved.data).toMatchObject({ service: 'svc', instance: SERVICE_WIDE_INSTANCE, status: 'resolved', endsAt: '2026-01-01T00:05:00.000Z' });
    expect(firing.occurredAt).toBe(receivedAt.toISOString());
    expect(firing.producer).toBe('alertmanager/autoheal');
    expect([firing, resolved].every((e) => parseEnvelope(e).ok)).toBe(true);
  });

  it.each([
    ['no service or job label', alert({ labels: { alertname: 'A' } }), 'alerts.0.labels.service'],
    ['no alertname', alert({ labels: { job: 'api' } }), 'alerts.0.labels.alertname'],
    ['a startsAt that is no time', alert({ startsAt: 'yesterday' }), 'alerts.0.startsAt'],
    ['an unknown status', alert({ status: 'pending' }), 'alerts.0.status'],
    ['no fingerprint', alert({ fingerprint: '' }), 'alerts.0.fingerprint'],
    ['a label that is not a string', alert({ labels: { alertname: 'A', job: 'api', n: 1 } }), 'alerts.0.labels.n'],
  ])('rejects an alert with %s', (_name, bad, field) => {
    const result = mapAlertmanagerPayload('acme', payload([bad]), receivedAt, KEY);
    expect(result.ok && result.rejected.map((r) => r.violation.field)).toEqual([field]);
  });

  it.each([
    ['version 3', { ...payload([alert()]), version: '3' }, 'version'],
    ['no alerts', payload([]), 'alerts'],
    ['no receiver', { version: '4', status: 'firing', alerts: [alert()] }, 'receiver'],
  ])('rejects a payload with %s', (_name, body, field) => {
    const result = mapAlertmanagerPayload('acme', body, receivedAt, KEY);
    expect(result.ok ? null : result.violation.field).toBe(field);
  });
});
