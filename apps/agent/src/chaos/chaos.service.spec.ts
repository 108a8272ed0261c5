import pino from 'pino';
import { agentService, CHAOS_ACTIONS } from '@autoheal/contracts';
import { ChaosService } from './chaos.service.js';
import { FleetSupervisor } from '../supervisor/fleet-supervisor.js';

// The request checks that happen before any process is touched. Chaos on real processes is
// covered by agent.int-spec.ts.
describe('ChaosService request validation', () => {
  const target = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-1' };
  let service: ChaosService;

  beforeEach(async () => {
    const logger = pino({ level: 'silent' });
    // Never started: every instance is exited.
    const supervisor = await FleetSupervisor.create({
      services: [agentService.parse({ tenantId: target.tenantId, service: target.service, instances: [{ name: target.instance, port: 4100 }], command: ['api-server'] })],
      launch: () => {
        throw new Error('not in this test');
      },
      logger,
    });
    service = new ChaosService(supervisor, logger);
  });

  it('knows the process actions and the degradations', () => {
    expect([...CHAOS_ACTIONS]).toEqual(['kill', 'hang', 'resume', 'errors', 'slow', 'leak', 'release']);
  });

  it.each([
    ['a body that is not an object', undefined],
    ['an unknown action', { ...target, action: 'explode' }],
    ['a degradation in another field', { ...target, action: 'errors', share: 0.5 }],
    ['a missing action', { ...target }],
    ['an action in the wrong case', { ...target, action: 'Slow' }],
    ['a tenant with a dot', { ...target, tenantId: 'acme.health', action: 'leak' }],
  ])('answers invalid_request for %s', async (_name, body) => {
    expect(await service.handle(body)).toMatchObject({ ok: false, code: 'invalid_request' });
  });

  it.each([
    ['release without the version to roll out', { ...target, action: 'release' }],
    ['a version given to another action', { ...target, action: 'kill', release: '1.5.0' }],
  ])('answers invalid_request naming the release field for %s', async (_name, body) => {
    expect(await service.handle(body)).toMatchObject({ ok: false, code: 'invalid_request', message: expect.stringMatching(/^release: /) as string });
  });

  it('answers unknown_instance for an instance this agent does not run', async () => {
    expect(await service.handle({ ...target, instance: 'patient-api-9', action: 'slow' })).toMatchObject({ ok: false, code: 'unknown_instance' });
  });

  it.each(CHAOS_ACTIONS.map((action) => [action]))('answers not_running for %s on an instance with no process', async (action) => {
    const release = action === 'release' ? { release: 'initial' } : {};
    expect(await service.handle({ ...target, action, ...release })).toMatchObject({ ok: false, code: 'not_running' });
  });
});
