import { nkeys } from '@nats-io/transport-node';
import { EVENT_TYPES, subjectFor } from '@autoheal/contracts';
import { allows, identityName, inboxPrefixFor, permissionsFor, subjectMatches, systemIdentities, type NatsIdentity } from './nats-permissions.js';
import { renderUsersFile } from './nats-server-config.js';

const FLEET = {
  tenants: [
    { tenantId: 'acme', services: [{ service: 'api', instances: ['api-1', 'api-2'], standby: { agentId: 'standby-eu', region: 'eu-west-1', instances: ['api-1'] } }] },
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
      // acme/api/api-1 has a standby in eu-west-1 of that name, whose agent reports its exits.
      if (type.startsWith('health.')) expected[type] = ['agent:demo-fleet', 'agent:standby-eu', 'detector', 'producer:acme'];
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

  it('lets only the executor fail a target over, and only the agent keeping that standby in that region take it', () => {
    expect(NAMES.filter((n) => canPublish(n, 'agent.failover.eu-west-1.acme.api.api-1'))).toEqual(['executor']);
    expect(NAMES.filter((n) => canSubscribe(n, 'agent.failover.eu-west-1.acme.api.api-1'))).toEqual(['agent:standby-eu']);
    // Another region, another service, another tenant: nobody takes it, so no agent can be made to act outside its region.
    expect(NAMES.filter((n) => canSubscribe(n, 'agent.failover.us-east-1.acme.api.api-1'))).toEqual([]);
    expect(NAMES.filter((n) => canSubscribe(n, 'agent.failover.eu-west-1.acme.web.web-1'))).toEqual([]);
    expect(NAMES.filter((n) => canSubscribe(n, 'agent.failover.eu-west-1.globex.pay.pay-1'))).toEqual([]);
    expect(canSubscribe('agent:standby-eu', 'agent.failover.>')).toBe(false);
    expect(canSubscribe('agent:standby-eu', 'agent.failover.*.acme.api.*')).toBe(false);
    // Its standby instance bears the name of the instance it stands in for, whose commands stay
    // with the primary's agent; the standby's agent only reports its exits.
    expect(NAMES.filter((n) => canSubscribe(n, 'agent.command.acme.api.api-1'))).toEqual(['agent:demo-fleet']);
    expect(canSubscribe('agent:standby-eu', 'agent.command.acme.api.api-2')).toBe(false);
    expect(canPublish('agent:standby-eu', 'health.acme.api.api-1')).toBe(true);
    expect(canPublish('agent:standby-eu', 'health.acme.api.api-2')).toBe(false);
    expect(canPublish('agent:standby-eu', 'health.globex.pay.pay-1')).toBe(false);
  });

  it('lets an agent subscribe to the commands of its own targets only, and answer through allow_responses', () => {
    expect(canSubscribe('agent:demo-fleet', 'agent.command.acme.api.api-1')).toBe(true);
    expect(canSubscribe('agent:demo-fleet', 'agent.command.acme.api.api-9')).toBe(false);
    expect(canSubscribe('agent:demo-fleet', 'agent.command.>')).toBe(false);
    expect(perms('agent:demo-fleet').allowResponses?.max).toBe(1);
    expect(canPublish('agent:demo-fleet', 'health.acme.api.api-1')).toBe(true);
    expect(canPublish('agent:demo-fleet', 'health.acme.api.api-9')).toBe(false);
  });

  it('gives a service the fleet runs on a host agent of its own to that agent alone, apart from the demo fleet agent', () => {
    const hosts = systemIdentities({
      tenants: [
        { tenantId: 'acme', services: [{ service: 'api', instances: ['api-1'] }] },
        { tenantId: 'hooli', services: [{ service: 'status', instances: ['status-1'], agentId: 'host-west', standby: { agentId: 'host-central', region: 'eu-central-1', instances: ['status-1'] } }] },
      ],
    });
    const agents = hosts.filter((i) => i.kind === 'agent');
    expect(agents.map((a) => [a.agentId, a.targets.map((t) => t.instance), (a.standbys ?? []).map((s) => `${s.region}/${s.service}`)])).toEqual([
      ['demo-fleet', ['api-1'], []],
      ['host-west', ['status-1'], []],
      ['host-central', [], ['eu-central-1/status']],
    ]);
    const rules = (agentId: string) => permissionsFor(agents.find((a) => a.agentId === agentId)!, nkeys.createUser().getPublicKey());
    expect(allows(rules('host-west').subscribe, 'agent.command.hooli.status.status-1')).toBe(true);
    expect(allows(rules('demo-fleet').subscribe, 'agent.command.hooli.status.status-1')).toBe(false);
    expect(allows(rules('demo-fleet').publish, 'health.hooli.status.status-1')).toBe(false);
    expect(allows(rules('host-west').subscribe, 'agent.failover.eu-central-1.hooli.status.status-1')).toBe(false);
    expect(allows(rules('host-central').subscribe, 'agent.failover.eu-central-1.hooli.status.status-1')).toBe(true);
    expect(allows(rules('host-central').subscribe, 'agent.failover.eu-west-1.hooli.status.status-1')).toBe(false);
    expect(allows(rules('host-central').subscribe, 'agent.command.hooli.status.status-1')).toBe(false);
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
    expect(() => permissionsFor({ kind: 'agent', agentId: 'x', targets: [], standbys: [{ tenantId: 'acme', service: 'api', region: '*', instances: [] }] }, keys.get('detector')!)).toThrow(/region/);
    expect(() => permissionsFor({ kind: 'agent', agentId: 'x', targets: [], standbys: [{ tenantId: 'acme', service: '>', region: 'eu-west-1', instances: [] }] }, keys.get('detector')!)).toThrow(/service/);
  });

  it('renders one server user per identity and refuses a key used twice', () => {
    const entries = IDENTITIES.map((identity) => ({ identity, publicKey: keys.get(identityName(identity))! }));
    const file = renderUsersFile(entries);
    expect(file.match(/nkey: "U/g)).toHaveLength(IDENTITIES.length);
    expect(file).toContain('allow_responses');
    expect(() => renderUsersFile([entries[0], { ...entries[1], publicKey: entries[0].publicKey }])).toThrow(/used twice/);
  });
});
