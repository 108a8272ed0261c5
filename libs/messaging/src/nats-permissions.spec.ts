import { nkeys } from '@nats-io/transport-node';
import { EVENT_TYPES, subjectFor } from '@autoheal/contracts';
import { allows, identityName, inboxPrefixFor, permissionsFor, subjectMatches, systemIdentities, type NatsIdentity } from './nats-permissions.js';
import { renderUsersFile } from './nats-server-config.js';

const FLEET = {
  tenants: [
    { tenantId: 'acme', services: [{ service: 'api', instances: ['api-1', 'api-2'] }] },
    { tenantId: 'globex', services: [{ service: 'pay', instances: ['pay-1'] }] },
  ],
};
const IDENTITIES = systemIdentities(FLEET);
const keys = new Map(IDENTITIES.map((i) => [identityName(i), nkeys.createUser().getPublicKey()] as const));
const perms = (name: string) => {
  const identity = IDENTITIES.find((i) => identityName(i) === name)!;
  return permissionsFor(identity, keys.get(name)!);
};
const canPublish = (name: string, subject: string) => allows(perms(name).publish, subject);
const canSubscribe = (name: string, subject: string) => allows(perms(name).subscribe, subject);
const NAMES = IDENTITIES.map(identityName);

/** A valid-looking subject for each event type, of tenant acme, instance api-1. */
function sampleSubject(type: (typeof EVENT_TYPES)[number]): string {
  return subjectFor({ type, tenantId: 'acme', data: { service: 'api', instance: 'api-1' } } as Parameters<typeof subjectFor>[0]);
}

describe('subject matching', () => {
  it.each([
    ['health.acme.>', 'health.acme.api.i1', true],
    ['health.acme.>', 'health.acme', false],
    ['health.*.*.*', 'health.acme.api.i1', true],
    ['health.*.*.*', 'health.acme.api', false],
    ['$JS.API.STREAM.INFO.HEALTH', '$JS.API.STREAM.INFO.HEALTHX', false],
    ['$JS.ACK.HEALTH.*.>', '$JS.ACK.HEALTH.detector-health-x.1.2.3', true],
  ])('%s ~ %s = %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });

  it('lets deny win over allow', () => {
    expect(allows({ allow: ['a.>'], deny: ['a.b'] }, 'a.b')).toBe(false);
    expect(allows({ allow: ['a.>'], deny: ['a.b'] }, 'a.c')).toBe(true);
  });
});

describe('the NATS permission table', () => {
  it('gives each event type exactly the producer ARCHITECTURE names (the detector also publishes health for HTTP ingest)', () => {
    const producersOf = Object.fromEntries(EVENT_TYPES.map((type) => [type, NAMES.filter((n) => canPublish(n, sampleSubject(type))).sort()]));
    const expected: Record<string, string[]> = {};
    for (const type of EVENT_TYPES) {
      if (type.startsWith('health.')) expected[type] = ['agent:demo-fleet', 'detector', 'producer:acme'];
      else if (type.startsWith('incident.')) expected[type] = ['detector'];
      else if (type.startsWith('compliance.')) expected[type] = ['decision'];
      else if (['remediation.started', 'remediation.succeeded', 'remediation.failed', 'remediation.rolled_back'].includes(type)) expected[type] = ['executor'];
      else if (type === 'security.access_refused') expected[type] = ['decision'];
      else if (type.startsWith('security.')) expected[type] = ['auditor', 'decision', 'executor'];
      else expected[type] = ['decision'];
    }
    expect(producersOf).toEqual(expected);
  });

  it('keeps a tenant producer to its own tenant health, with no JetStream API at all', () => {
    expect(canPublish('producer:acme', 'health.acme.api.api-1')).toBe(true);
    for (const subject of [
      'health.globex.pay.pay-1',
      'incident.acme.opened',
      'remediation.acme.planned',
      'remediation.acme.approved',
      'compliance.acme.policy_changed',
      'agent.command.acme.api.api-1',
      'security.acme.signature_invalid',
      '$JS.API.INFO',
      '$JS.API.STREAM.INFO.HEALTH',
      '$JS.API.STREAM.PURGE.HEALTH',
      '$JS.API.CONSUMER.CREATE.HEALTH.mine.health.>',
      '_INBOX.anything',
    ]) {
      expect([subject, canPublish('producer:acme', subject)]).toEqual([subject, false]);
    }
  });

  it('lets only the executor command a target', () => {
    const commanders = NAMES.filter((n) => canPublish(n, 'agent.command.acme.api.api-1'));
    expect(commanders).toEqual(['executor']);
    // The restart-only subject of old is gone: nobody may use it.
    expect(NAMES.filter((n) => canPublish(n, 'agent.restart.acme.api.api-1'))).toEqual([]);
  });

  it('lets an agent subscribe to the commands of its own targets only, and answer through allow_responses', () => {
    expect(canSubscribe('agent:demo-fleet', 'agent.command.acme.api.api-1')).toBe(true);
    expect(canSubscribe('agent:demo-fleet', 'agent.command.acme.api.api-9')).toBe(false);
    expect(canSubscribe('agent:demo-fleet', 'agent.command.>')).toBe(false);
    expect(perms('agent:demo-fleet').allowResponses?.max).toBe(1);
    expect(canPublish('agent:demo-fleet', 'health.acme.api.api-1')).toBe(true);
    expect(canPublish('agent:demo-fleet', 'health.acme.api.api-9')).toBe(false);
  });

  it('gives every identity its own inbox and no other', () => {
    for (const name of NAMES) {
      const own = inboxPrefixFor(keys.get(name)!);
      expect(canSubscribe(name, `${own}.abc`)).toBe(true);
      expect(canSubscribe(name, '_INBOX.>')).toBe(false);
      for (const other of NAMES.filter((n) => n !== name)) expect([name, other, canSubscribe(name, `${inboxPrefixFor(keys.get(other)!)}.abc`)]).toEqual([name, other, false]);
    }
  });

  it('lets no identity purge or delete a stream, or edit another service’s consumer', () => {
    for (const name of NAMES) {
      for (const stream of ['HEALTH', 'INCIDENTS', 'REMEDIATIONS', 'COMPLIANCE', 'DEAD_LETTER', 'SECURITY', 'AUDIT_CHECKPOINTS', 'KV_detector_members']) {
        expect([name, stream, canPublish(name, `$JS.API.STREAM.PURGE.${stream}`), canPublish(name, `$JS.API.STREAM.DELETE.${stream}`)]).toEqual([name, stream, false, false]);
      }
    }
    expect(canPublish('decision', '$JS.API.CONSUMER.CREATE.REMEDIATIONS.executor-remediations.remediation.>')).toBe(false);
    expect(canPublish('executor', '$JS.API.CONSUMER.CREATE.REMEDIATIONS.executor-remediations.remediation.>')).toBe(true);
    expect(canPublish('executor', '$JS.ACK.REMEDIATIONS.decision-outcomes.1.2.3.4.5')).toBe(false);
    expect(canPublish('executor', '$JS.API.STREAM.INFO.HEALTH')).toBe(false);
  });

  it('lets only the auditor write checkpoints and announce its keys, and nobody change the checkpoint stream once created', () => {
    const writers = (subject: string) => NAMES.filter((n) => canPublish(n, subject));
    expect(writers('checkpoint.tenant.acme')).toEqual(['auditor']);
    expect(writers('checkpoint.key.ed25519:abc')).toEqual(['auditor']);
    expect(writers('checkpoint.tenant.acme.x')).toEqual([]);
    expect(writers('$JS.API.STREAM.UPDATE.AUDIT_CHECKPOINTS')).toEqual([]);
    expect(writers('$JS.API.STREAM.MSG.DELETE.AUDIT_CHECKPOINTS')).toEqual([]);
    expect(canPublish('auditor', '$JS.API.STREAM.CREATE.AUDIT_CHECKPOINTS')).toBe(true);
    expect(canPublish('auditor', '$JS.API.STREAM.MSG.GET.AUDIT_CHECKPOINTS')).toBe(true);
  });

  it('keeps the read-only identities from publishing any event', () => {
    for (const name of ['event-feed', 'chaos', 'ops']) {
      for (const type of EVENT_TYPES) expect([name, type, canPublish(name, sampleSubject(type))]).toEqual([name, type, false]);
    }
    expect(canPublish('chaos', 'agent.command.acme.api.api-1')).toBe(false);
    expect(canSubscribe('event-feed', 'health.acme.api.api-1')).toBe(false);
  });

  it('lets a service write its own consumers’ dead letters (deadletter.<stream>.<consumer>.<tenant>) and nobody else’s', () => {
    const writers = (subject: string) => NAMES.filter((n) => canPublish(n, subject));
    expect(writers('deadletter.HEALTH.detector-health.acme')).toEqual(['detector']);
    expect(writers('deadletter.HEALTH.http-ingest.~none')).toEqual(['detector']);
    expect(writers('deadletter.INCIDENTS.auditor-incidents.acme')).toEqual(['auditor']);
    expect(writers('deadletter.REMEDIATIONS.executor-remediations.globex')).toEqual(['executor']);
    expect(writers('deadletter.INCIDENTS.decision-incidents.acme')).toEqual(['decision']);
    // The old three-token subjects, and anything longer, are nobody's.
    expect(writers('deadletter.HEALTH.http-ingest')).toEqual([]);
    expect(writers('deadletter.INCIDENTS.auditor-incidents.acme.x')).toEqual([]);
  });

  it('refuses an identity token that would widen a subject', () => {
    const bad: NatsIdentity = { kind: 'producer', tenantId: 'acme.>' };
    expect(() => permissionsFor(bad, keys.get('detector')!)).toThrow(/single subject token/);
    expect(() => permissionsFor({ kind: 'agent', agentId: 'x', targets: [{ tenantId: '*', service: 'api', instance: 'api-1' }] }, keys.get('detector')!)).toThrow();
  });

  it('renders one server user per identity and refuses a key used twice', () => {
    const entries = IDENTITIES.map((identity) => ({ identity, publicKey: keys.get(identityName(identity))! }));
    const file = renderUsersFile(entries);
    expect(file.match(/nkey: "U/g)).toHaveLength(IDENTITIES.length);
    expect(file).toContain('allow_responses');
    expect(() => renderUsersFile([entries[0], { ...entries[1], publicKey: entries[0].publicKey }])).toThrow(/used twice/);
  });
});
