import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildEventsJsonSchema,
  domainSubject,
  healthSubject,
  InvalidSubjectTokenError,
  newEvent,
  parseEnvelope,
  parseHealthSubject,
  subjectFor,
  subjectMismatch,
  subjectTenant,
  SYSTEM_TENANT_ID,
} from './index.js';

const heartbeat = () =>
  newEvent('health.heartbeat', { tenantId: 'acme', producer: 'sdk', data: { service: 'api', instance: 'api-1', intervalMs: 1000, sequence: 0 } });

describe('subjects', () => {
  it.each(['acme.x', 'ac me', '*', '>', 'a>', '', 'x'.repeat(65), 'ü'])('refuses the token %j', (bad) => {
    expect(() => healthSubject(bad, 'api', 'i-1')).toThrow(InvalidSubjectTokenError);
    expect(() => domainSubject('incident.opened', bad)).toThrow(InvalidSubjectTokenError);
  });

  it('builds and parses health subjects', () => {
    expect(healthSubject('acme', 'api', 'api-1')).toBe('health.acme.api.api-1');
    expect(parseHealthSubject('health.acme.api.api-1')).toEqual({ tenantId: 'acme', service: 'api', instance: 'api-1' });
    expect(parseHealthSubject('health.acme.api')).toBeNull();
    expect(parseHealthSubject('health.acme.*.api-1')).toBeNull();
  });

  it('derives the subject from the event and detects a mismatch', () => {
    const e = heartbeat();
    expect(subjectFor(e)).toBe('health.acme.api.api-1');
    expect(subjectMismatch('health.acme.api.api-1', e)).toBeNull();
    expect(subjectMismatch('health.globex.api.api-1', e)).toMatch(/does not match/);
  });
});

describe('system events', () => {
  const refused = () =>
    newEvent('security.access_refused', {
      tenantId: SYSTEM_TENANT_ID,
      producer: 'decision',
      data: { api: 'decision admin API', origin: 'address 10.0.0.1', code: 'invalid_credential', status: 401, count: 3, firstAt: '2026-01-01T00:00:00.000Z', lastAt: '2026-01-01T00:00:01.000Z', windowStart: '2026-01-01T00:00:00.000Z' },
    });

  it('travel on a subject no tenant can have, and only there', () => {
    const e = refused();
    expect(subjectFor(e)).toBe('security.@system.access_refused');
    expect(subjectTenant(subjectFor(e))).toBe(SYSTEM_TENANT_ID);
    expect(subjectMismatch('security.@system.access_refused', e)).toBeNull();
    expect(subjectMismatch('security.acme.access_refused', e)).toMatch(/does not match/);
    expect(() => domainSubject('security.event_rejected', SYSTEM_TENANT_ID)).toThrow(InvalidSubjectTokenError);
  });

  it('belong to the system tenant, and no tenant event may claim it', () => {
    const raw = JSON.parse(JSON.stringify(refused())) as Record<string, unknown>;
    expect(parseEnvelope(raw).ok).toBe(true);
    expect(parseEnvelope({ ...raw, tenantId: 'acme' }).ok).toBe(false);
    const tenantEvent = JSON.parse(JSON.stringify(heartbeat())) as Record<string, unknown>;
    expect(parseEnvelope({ ...tenantEvent, tenantId: SYSTEM_TENANT_ID }).ok).toBe(false);
    expect(() => newEvent('incident.opened', { tenantId: SYSTEM_TENANT_ID, producer: 'detector', data: {} as never })).toThrow(/tenantId/);
  });
});

describe('envelope', () => {
  it('accepts what newEvent builds', () => {
    expect(parseEnvelope(JSON.parse(JSON.stringify(heartbeat()))).ok).toBe(true);
  });

  type Raw = Record<string, unknown> & { data: Record<string, unknown> };
  it.each<[string, (e: Raw) => Raw]>([
    ['data.intervalMs', (e) => ({ ...e, data: { ...e.data, intervalMs: 5 } })],
    ['data.instance', (e) => ({ ...e, data: { ...e.data, instance: 'a.b' } })],
    ['occurredAt', (e) => ({ ...e, occurredAt: '2026-01-01 10:00' })],
    ['type', (e) => ({ ...e, type: 'health.unknown' })],
    ['version', (e) => ({ ...e, version: 2 })],
    ['data.extra', (e) => ({ ...e, data: { ...e.data, extra: 1 } })],
  ])('names the offending field %s', (field, mutate) => {
    const result = parseEnvelope(mutate(JSON.parse(JSON.stringify(heartbeat())) as Raw));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain(field === 'data.extra' ? 'data' : field);
  });

  it('refuses to build an invalid event', () => {
    expect(() => newEvent('health.heartbeat', { tenantId: 'acme', producer: 'x', data: { service: 'api', instance: 'i', intervalMs: 1, sequence: 0 } })).toThrow(/intervalMs/);
  });
});

describe('published JSON Schema', () => {
  it('is up to date with the zod contracts (run `npm run schema` after changing them)', () => {
    const published: unknown = JSON.parse(readFileSync(join(__dirname, '..', 'schema', 'autoheal-events.schema.json'), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(buildEventsJsonSchema())));
  });
});
