import { InvalidSubjectTokenError } from '@autoheal/contracts';
import { HealthReporter } from './health-reporter.js';

// Construction validates everything before any connection is attempted, so these need no server.
describe('HealthReporter options', () => {
  const valid = { servers: 'nats://127.0.0.1:1', tenantId: 'acme', service: 'api', instance: 'api-1' };

  it.each([
    ['tenantId', { tenantId: 'acme.health' }],
    ['tenantId', { tenantId: 'acme*' }],
    ['service', { service: 'patient api' }],
    ['instance', { instance: '>' }],
    ['instance', { instance: '' }],
  ])('rejects an invalid %s (%j)', (field, override) => {
    let thrown: unknown;
    try {
      new HealthReporter({ ...valid, ...override });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidSubjectTokenError);
    expect((thrown as InvalidSubjectTokenError).field).toBe(field);
  });

  it('rejects a tenant id through connect() before dialling', async () => {
    await expect(HealthReporter.connect({ ...valid, tenantId: 'a.b' })).rejects.toBeInstanceOf(InvalidSubjectTokenError);
  });

  it.each([50, 600_001, 1.5])('rejects intervalMs %p outside what the heartbeat contract allows', (intervalMs) => {
    expect(() => new HealthReporter({ ...valid, intervalMs })).toThrow(RangeError);
  });

  it.each(['', 'x'.repeat(201)])('rejects a producer the envelope contract would refuse (%#)', (producer) => {
    expect(() => new HealthReporter({ ...valid, producer })).toThrow(RangeError);
  });

  it('derives the subject from tenant, service and instance', () => {
    const reporter = new HealthReporter(valid);
    expect(reporter.subject).toBe('health.acme.api.api-1');
    expect(reporter.intervalMs).toBe(1000);
  });
});
