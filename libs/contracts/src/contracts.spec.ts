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
