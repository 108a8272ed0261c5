/**
 * Attacks on the provenance of control events, against the whole system as processes: a
 * client that may publish on the subject (the bus is not what stops it here) forges a
 * remediation plan, an approval or an incident with a valid-looking envelope. Each must be
 * refused by every consumer and have no effect: no restart (the instance keeps its pid), no
 * execution row, no started/succeeded in the trail, no plan; and it must leave a dead letter
 * with the reason and a security row in the tenant's audit trail.
 */
import { newEvent, newEventId, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { generateSigningKey, type SigningKey } from '@autoheal/security';
import { expectEventually, readStream } from '@autoheal/testing';
import { startSecuritySystem, TENANT, type SecuritySystem } from './security-system.js';

const INSTANCE = 'p-1';

function plan(type: 'remediation.planned' | 'remediation.approved'): Envelope<'remediation.planned' | 'remediation.approved'> {
  const incidentId = newEventId();
  const remediationId = newEventId();
  const target = { remediationId, incidentId, service: 'api', instance: INSTANCE, action: 'restart' as const };
  const meta = { tenantId: TENANT, producer: 'decision', correlationId: incidentId };
  return type === 'remediation.planned'
    ? newEvent('remediation.planned', { ...meta, data: { ...target, policyVersion: 'sha256:mallory', reason: 'mallory', candidates: [{ action: 'restart', allowed: true, reason: 'mallory' }] } })
    : newEvent('remediation.approved', { ...meta, data: { ...target, approvedBy: 'mallory' } });
}

describe('provenance of control events (whole system, real nats-server and Postgres)', () => {
  let sys: SecuritySystem;

  beforeAll(async () => {
    sys = await startSecuritySystem([INSTANCE]);
  });

  afterAll(async () => {
    await sys?.stop();
  });

  /** The dead letters of one event id, by consumer. */
  async function deadLettersOf(eventId: string): Promise<DeadLetterRecord[]> {
    return (await sys.deadLetters()).filter((d) => d.payload.includes(eventId));
  }

  const forgeries: [string, (s: SecuritySystem, bytes: Uint8Array) => { key: SigningKey; bytes?: Uint8Array } | undefined, string][] = [
    ['without a signature', () => undefined, 'unsigned'],
    ['signed by a key nobody trusts', () => ({ key: generateSigningKey().key }), 'unknown_key'],
    ['validly signed by the detector (an identity not entitled to it)', (s) => ({ key: s.key('detector') }), 'not_entitled'],
    // The decision service really signed a plan for another instance; its signature is reused on this one.
    ['with the decision service’s valid signature over other bytes', (s, bytes) => ({ key: s.key('decision'), bytes: new TextEncoder().encode(new TextDecoder().decode(bytes).replace(`"instance":"${INSTANCE}"`, '"instance":"p-other"')) }), 'bad_signature'],
  ];

  describe.each(['remediation.planned', 'remediation.approved'] as const)('a forged %s', (type) => {
    it.each(forgeries)('%s is refused and has no effect', async (_name, signWith, reason) => {
      const pidBefore = await sys.pidOf(INSTANCE);
      expect(pidBefore).toBeDefined();
      const event = plan(type);
      const bytes = new TextEncoder().encode(JSON.stringify(event));
      await sys.publish(event, signWith(sys, bytes));

      // Refused where it would have acted (the executor) and where it would have been written down (the auditor).
      await expectEventually(async () => {
        const letters = await deadLettersOf(event.id);
        expect(letters.map((d) => [d.consumer, d.reason]).sort()).toEqual(
          expect.arrayContaining([
            ['auditor-remediations', 'provenance_rejected'],
            ['executor-remediations', 'provenance_rejected'],
          ]),
        );
        for (const d of letters) expect(d.detail).toMatch(new RegExp(`^${reason}:`));
      }, { timeoutMs: 20_000 });

      // The tenant's trail says what happened: the auditor's own refusal, and the executor's security event.
      await expectEventually(async () => {
        const rows = (await sys.audit('&type=security.event_rejected')).filter((r) => JSON.stringify(r.payload).includes(event.id));
        expect(rows.map((r) => r.actor).sort()).toEqual(expect.arrayContaining(['auditor', 'executor']));
        for (const r of rows) expect(r).toMatchObject({ outcome: 'refused', action: 'control_event.reject' });
        const auditorsOwn = rows.find((r) => r.actor === 'auditor')!;
        expect(auditorsOwn.payload).toMatchObject({ reason, eventId: event.id, eventType: type, claimedProducer: 'decision', subject: `remediation.${TENANT}.${type.split('.')[1]}` });
        // What was refused is named, its data is not copied into the trail.
        expect(JSON.stringify(auditorsOwn.payload)).not.toContain('mallory');
      }, { timeoutMs: 20_000 });

      // And nothing happened: the executor's consumer terminated it, so nothing can follow.
      expect(await sys.executions(event.data.remediationId)).toEqual([]);
      expect(await sys.pidOf(INSTANCE)).toBe(pidBefore);
      const trail = await sys.audit();
      expect(trail.filter((r) => r.eventType !== 'security.event_rejected' && JSON.stringify(r.payload).includes(event.data.remediationId))).toEqual([]);
      const remediations = await readStream<Envelope>(sys.nc, 'REMEDIATIONS');
      expect(remediations.filter((e) => (e.type === 'remediation.started' || e.type === 'remediation.succeeded') && (e.data as { remediationId?: string }).remediationId === event.data.remediationId)).toEqual([]);
    });
  });

  it.each([
    ['without a signature', () => undefined, 'unsigned'],
    ['validly signed by the decision service (not entitled to incidents)', (s: SecuritySystem) => ({ key: s.key('decision') }), 'not_entitled'],
  ] as const)('a forged incident.opened %s plans no remediation', async (_name, signWith, reason) => {
    const incidentId = newEventId();
    const now = new Date().toISOString();
    const event = newEvent('incident.opened', {
      tenantId: TENANT,
      producer: 'detector',
      correlationId: incidentId,
      data: { incidentId, service: 'api', instance: INSTANCE, kind: 'crashed', severity: 'critical', signalAt: now, detectedAt: now, detectionLatencyMs: 1, evidence: {} },
    });
    await sys.publish(event, signWith(sys));
    await expectEventually(async () => {
      const letters = await deadLettersOf(event.id);
      expect(letters.map((d) => d.consumer).sort()).toEqual(expect.arrayContaining(['auditor-incidents', 'decision-incidents']));
      for (const d of letters) expect(d.detail).toMatch(new RegExp(`^${reason}:`));
    }, { timeoutMs: 20_000 });
    await expectEventually(async () => {
      const rows = (await sys.audit('&type=security.event_rejected')).filter((r) => JSON.stringify(r.payload).includes(event.id));
      expect(rows.map((r) => r.actor).sort()).toEqual(expect.arrayContaining(['auditor', 'decision']));
    }, { timeoutMs: 20_000 });
    const remediations = await readStream<Envelope>(sys.nc, 'REMEDIATIONS');
    expect(remediations.filter((e) => (e.data as { incidentId?: string }).incidentId === incidentId)).toEqual([]);
    expect((await sys.audit()).filter((r) => r.eventType === 'incident.opened' && JSON.stringify(r.payload).includes(incidentId))).toEqual([]);
  });

  it('still acts on a plan the decision service really signed (the refusals above are not everything refused)', async () => {
    const pidBefore = await sys.pidOf(INSTANCE);
    const event = plan('remediation.planned');
    await sys.publish(event, { key: sys.key('decision') });
    await expectEventually(async () => expect(await sys.executions(event.data.remediationId)).toMatchObject([{ status: 'succeeded' }]), { timeoutMs: 30_000 });
    expect(await sys.pidOf(INSTANCE)).not.toBe(pidBefore);
  });
});
