import pino from 'pino';
import { agentRestartReply, agentRestartSubject, type AgentRestartReply } from '@autoheal/contracts';
import { FleetSupervisor } from './fleet-supervisor.js';
import { OutcomeStore } from './outcome-store.js';
import { isFinalOutcome, NIL_UUID, RestartService } from './restart.service.js';

// The request checks that happen before any process is touched. Restarts themselves run real
// processes and are covered by agent.int-spec.ts.
describe('RestartService request validation', () => {
  const remediationId = '0190a5b4-7c1e-7a3b-9c2d-1e2f3a4b5c6d';
  const target = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-1' };
  let service: RestartService;
  let launches: number;

  beforeEach(async () => {
    launches = 0;
    const logger = pino({ level: 'silent' });
    const supervisor = await FleetSupervisor.create({
      instances: [target],
      basePort: 4100,
      launch: () => {
        launches += 1;
        throw new Error('spawn ENOENT');
      },
      logger,
    });
    const outcomes = await OutcomeStore.open<AgentRestartReply>(
      { load: () => Promise.resolve([]), save: () => Promise.resolve() },
      { keep: isFinalOutcome },
    );
    service = new RestartService({ supervisor, outcomes, clock: { now: () => new Date() }, readyTimeoutMs: 1000, logger });
  });

  const subject = agentRestartSubject(target.tenantId, target.service, target.instance);

  it.each([
    ['a body that is not an object', undefined, NIL_UUID],
    ['a missing remediation id', { ...target }, NIL_UUID],
    ['a remediation id that is not a UUID', { ...target, remediationId: 'r-1' }, NIL_UUID],
    ['a tenant with a dot', { ...target, tenantId: 'acme.health', remediationId }, remediationId],
    ['an unknown field', { ...target, remediationId, force: true }, remediationId],
  ])('answers invalid_request for %s', async (_name, body, expectedId) => {
    const reply = await service.handle(subject, body);
    expect(reply).toMatchObject({ ok: false, code: 'invalid_request', remediationId: expectedId });
    expect(agentRestartReply.safeParse(reply).success).toBe(true);
    expect(launches).toBe(0);
  });

  it('answers invalid_request when the body names another instance than the subject', async () => {
    const reply = await service.handle(subject, { ...target, instance: 'patient-api-2', remediationId });
    expect(reply).toMatchObject({ ok: false, code: 'invalid_request', remediationId });
    expect(launches).toBe(0);
  });

  it('answers unknown_instance for an instance this agent does not run', async () => {
    const other = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-9' };
    const reply = await service.handle(agentRestartSubject(other.tenantId, other.service, other.instance), { ...other, remediationId });
    expect(reply).toMatchObject({ ok: false, code: 'unknown_instance', remediationId });
    expect(launches).toBe(0);
  });

  it('answers spawn_failed when the process cannot be created', async () => {
    // The launcher above throws, as spawn() does for a missing executable.
    const reply = await service.handle(subject, { ...target, remediationId });
    expect(reply).toMatchObject({ ok: false, code: 'spawn_failed', remediationId });
    expect(agentRestartReply.safeParse(reply).success).toBe(true);
  });
});
