import { STREAMS, SYSTEM_TENANT_ID } from '@autoheal/contracts';

/**
 * Who may publish and subscribe to what on the bus: ARCHITECTURE's table ("what each service
 * consumes and produces") as data. The nats-server's `authorization { users = [...] }` is
 * generated from it (nats-server-config.ts); nothing else grants a right.
 *
 * Conventions the table relies on:
 * - every identity has an inbox prefix of its own, `_INBOX.<its public NKey>` (see
 *   inboxPrefixFor); it may subscribe to that prefix only, so no one reads another's replies;
 * - JetStream API access is per stream and per durable consumer (`$JS.API.STREAM.INFO.<stream>`,
 *   `$JS.API.CONSUMER.CREATE.<stream>.<durable>.<filter>`, `$JS.ACK.<stream>.<durable>.>`…);
 *   nothing here grants `$JS.API.STREAM.PURGE` or `$JS.API.STREAM.DELETE`;
 * - request/reply responders (agents) answer through `allow_responses`, never through a
 *   publish right on `_INBOX.>`.
 */

export type ServiceName = 'detector' | 'decision' | 'executor' | 'auditor';

export interface AgentTarget {
  tenantId: string;
  service: string;
  instance: string;
}

/**
 * A service an agent keeps the standby of, in its region: it takes that service's failovers into
 * the region, and reports the exits of its standby instances (which bear the names of the
 * instances they stand in for, whose commands stay with the primary's agent).
 */
export interface AgentStandby {
  tenantId: string;
  service: string;
  region: string;
  instances: readonly string[];
}

export type NatsIdentity =
  | { kind: 'service'; service: ServiceName }
  | { kind: 'agent'; agentId: string; targets: readonly AgentTarget[]; standbys?: readonly AgentStandby[] }
  | { kind: 'producer'; tenantId: string }
  /** `tools/dev/event-feed.js`: reads incident/remediation/compliance events as they pass, nothing else. */
  | { kind: 'event-feed' }
  /** `apps/demo-fleet/src/chaos.cli.ts`: asks the host agent (apps/agent) to break an instance or for its status. */
  | { kind: 'chaos' }
  /**
   * Read-only operator view (and the end-to-end tests' observer): reads every stream's messages
   * and info, watches the control events as they pass, and drives the demo agent like the chaos
   * CLI. It can neither publish an event nor change a stream or consumer.
   */
  | { kind: 'ops' };

export interface SubjectRules {
  allow: string[];
  deny?: string[];
}

export interface NatsPermissions {
  publish: SubjectRules;
  subscribe: SubjectRules;
  /** Lets the identity publish one reply to the reply subject of each request it received. */
  allowResponses?: { max: number; expiresMs: number };
}


/** Request subjects the host agent answers besides commands (apps/agent README): chaos only when its config enables it. */
export const DEMO_AGENT_SUBJECTS = { chaos: 'agent.chaos', status: 'agent.status' } as const;

/** The user name an identity has in the server config and in logs: `detector`, `agent:<id>`, `producer:<tenant>`… */
export function identityName(identity: NatsIdentity): string {
  switch (identity.kind) {
    case 'service':
      return identity.service;
    case 'agent':
      return `agent:${identity.agentId}`;
    case 'producer':
      return `producer:${identity.tenantId}`;
    default:
      return identity.kind;
  }
}

/** The only inbox prefix an identity may subscribe to: `_INBOX.<public NKey>`. */
export function inboxPrefixFor(publicKey: string): string {
  if (!/^U[A-Z2-7]{55}$/.test(publicKey)) throw new Error(`not a user public NKey: ${publicKey}`);
  return `_INBOX.${publicKey}`;
}

const TOKEN = /^[-_a-zA-Z0-9]+$/;
function token(name: string, value: string): string {
  if (!TOKEN.test(value)) throw new Error(`${name} must be a single subject token (letters, digits, - and _), got ${JSON.stringify(value)}`);
  return value;
}

interface DurableRef {
  stream: string;
  /** A durable name, or `*` for consumers named at run time (per-process durables, ordered consumers). */
  durable: string;
}

/** The JetStream API subjects that create/update/read one durable consumer and acknowledge its messages. */
function consumerApi({ stream, durable }: DurableRef): string[] {
  return [
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ];
}

/**
 * INFO/CREATE/UPDATE of the streams a service provisions (never PURGE or DELETE). The checkpoint
 * stream is created, never updated (its limits stay as created), and only read by key.
 */
function streamApi(streams: readonly string[]): string[] {
  return [
    '$JS.API.INFO',
    ...streams.flatMap((s) =>
      s === S.checkpoints
        ? [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.MSG.GET.${s}`, `$JS.API.DIRECT.GET.${s}`, `$JS.API.DIRECT.GET.${s}.>`]
        : [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`],
    ),
  ];
}

/** A JetStream KV bucket read, written and watched by one identity. */
function kvApi(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    ...streamApi([stream]),
    `$KV.${bucket}.>`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
  ];
}

/**
 * Reading and watching a KV bucket without writing it: no `$KV.<bucket>.>` publish, no stream
 * create or update (the writer provisions the bucket).
 */
function kvReadApi(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    '$JS.API.INFO',
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
  ];
}

/** `deadletter.<stream>.<durable>.<tenant>`: a service writes its own consumers' dead letters, for any tenant. */
function deadLetters(stream: string, durables: readonly string[]): string[] {
  return durables.map((d) => `deadletter.${stream}.${d}.*`);
}

const S = {
  health: STREAMS.health.name,
  incidents: STREAMS.incidents.name,
  remediations: STREAMS.remediations.name,
  compliance: STREAMS.compliance.name,
  deadLetter: STREAMS.deadLetter.name,
  security: STREAMS.security.name,
  checkpoints: STREAMS.checkpoints.name,
};

/** Event names (the last subject token) each producer of remediation events may publish. */
export const DECISION_REMEDIATION_EVENTS = ['planned', 'awaiting_approval', 'approved', 'rejected', 'deferred', 'escalated', 'escalation_delivered', 'verified', 'verification_failed'] as const;
export const EXECUTOR_REMEDIATION_EVENTS = ['started', 'succeeded', 'failed', 'rolled_back'] as const;

/** Each service's durable consumers (kept in step with the apps' consumer specs; a test checks them). */
export const SERVICE_DURABLES = {
  detector: [{ stream: S.health, durable: '*' }],
  decision: [
    { stream: S.incidents, durable: 'decision-incidents' },
    { stream: S.remediations, durable: 'decision-outcomes' },
  ],
  executor: [{ stream: S.remediations, durable: 'executor-remediations' }],
  auditor: [
    { stream: S.incidents, durable: 'auditor-incidents' },
    { stream: S.remediations, durable: 'auditor-remediations' },
    { stream: S.compliance, durable: 'auditor-compliance' },
    { stream: S.security, durable: 'auditor-security' },
  ],
} as const satisfies Record<ServiceName, readonly DurableRef[]>;

/** The streams each service creates or updates at boot (those it publishes to or consumes from). */
export const SERVICE_STREAMS: Record<ServiceName, readonly string[]> = {
  detector: [S.health, S.incidents, S.deadLetter],
  decision: [S.incidents, S.remediations, S.compliance, S.deadLetter, S.security],
  executor: [S.remediations, S.deadLetter, S.security],
  auditor: [S.incidents, S.remediations, S.compliance, S.deadLetter, S.security, S.checkpoints],
};

/** The detectors' membership bucket (apps/detector/src/partitioning). */
export const DETECTOR_MEMBERS_BUCKET = 'detector_members';

/**
 * People's active API keys (key: the key's sha256; value: its grant, no secret). The auditor owns
 * the keys and is the only writer; the decision service only watches it. Nobody else may touch it.
 */
export const API_KEYS_BUCKET = 'API_KEYS';

function servicePublishes(service: ServiceName): string[] {
  // A service that consumes control events may report one it refused (forged, unsigned) as a
  // security event about that tenant; the detector consumes none (security/src/provenance.ts).
  const security = 'security.*.>';
  switch (service) {
    case 'detector':
      return [
        // HTTP ingest and Alertmanager: the detector publishes health on behalf of HTTP producers.
        'health.*.*.*',
        'incident.*.opened',
        'incident.*.updated',
        'incident.*.resolved',
        // Its health consumers' and HTTP ingest's dead letters, per tenant.
        'deadletter.HEALTH.*.*',
      ];
    case 'decision':
      return [
        ...DECISION_REMEDIATION_EVENTS.map((e) => `remediation.*.${e}`),
        'compliance.*.*',
        ...deadLetters(S.incidents, ['decision-incidents']),
        ...deadLetters(S.remediations, ['decision-outcomes']),
        security,
      ];
    case 'executor':
      return [
        ...EXECUTOR_REMEDIATION_EVENTS.map((e) => `remediation.*.${e}`),
        // Only the executor may command a target, or fail one over to a standby region.
        'agent.command.*.*.*',
        'agent.failover.*.*.*.*',
        ...deadLetters(S.remediations, ['executor-remediations']),
        security,
      ];
    case 'auditor':
      return [
        // Its signed checkpoints and the public keys it signs them with (stream AUDIT_CHECKPOINTS).
        'checkpoint.tenant.*',
        'checkpoint.key.*',
        ...deadLetters(S.incidents, ['auditor-incidents']),
        ...deadLetters(S.remediations, ['auditor-remediations']),
        ...deadLetters(S.compliance, ['auditor-compliance']),
        ...deadLetters(S.security, ['auditor-security']),
        security,
      ];
  }
}

function serviceJetStream(service: ServiceName): string[] {
  const api = [...streamApi(SERVICE_STREAMS[service]), ...SERVICE_DURABLES[service].flatMap(consumerApi)];
  if (service === 'detector') {
    return [
      ...api,
      // Per-process durables (`detector-health-<member>`) and the ordered replay consumer are
      // named at run time; the server deletes them itself once inactive, the replay deletes its own.
      `$JS.API.CONSUMER.DELETE.${S.health}.*`,
      ...kvApi(DETECTOR_MEMBERS_BUCKET),
    ];
  }
  if (service === 'auditor') {
    return [
      ...api,
      ...kvApi(API_KEYS_BUCKET),
      // Its lag metric reads the oldest message it has not acknowledged on each stream it audits:
      // messages it is entitled to consume anyway (apps/auditor/src/consumer-lag).
      ...SERVICE_DURABLES.auditor.map((d) => `$JS.API.STREAM.MSG.GET.${d.stream}`),
    ];
  }
  if (service === 'decision') return [...api, ...kvReadApi(API_KEYS_BUCKET)];
  return api;
}

/** The permissions of one identity; `publicKey` fixes its inbox prefix. */
export function permissionsFor(identity: NatsIdentity, publicKey: string): NatsPermissions {
  const inbox = `${inboxPrefixFor(publicKey)}.>`;
  switch (identity.kind) {
    case 'service':
      return {
        publish: {
          allow: [...servicePublishes(identity.service), ...serviceJetStream(identity.service)],
          // The system subjects (refused admin requests, bound for the system trail) are the decision service's alone.
          ...(identity.service === 'decision' ? {} : { deny: [`security.${SYSTEM_TENANT_ID}.>`] }),
        },
        subscribe: { allow: [inbox] },
      };
    case 'agent': {
      const commands = identity.targets.map(
        (t) => `agent.command.${token('tenantId', t.tenantId)}.${token('service', t.service)}.${token('instance', t.instance)}`,
      );
      // The failovers of any instance of a service it keeps the standby of, into that region only.
      const failovers = (identity.standbys ?? []).map(
        (s) => `agent.failover.${token('region', s.region)}.${token('tenantId', s.tenantId)}.${token('service', s.service)}.*`,
      );
      return {
        // An agent reports the exits of the processes it runs (health.exited), nothing else.
        publish: {
          allow: [
            ...identity.targets.map((t) => `health.${t.tenantId}.${t.service}.${t.instance}`),
            ...(identity.standbys ?? []).flatMap((s) => s.instances.map((i) => `health.${s.tenantId}.${s.service}.${token('instance', i)}`)),
          ],
        },
        subscribe: { allow: [inbox, ...commands, ...failovers, DEMO_AGENT_SUBJECTS.chaos, DEMO_AGENT_SUBJECTS.status] },
        allowResponses: { max: 1, expiresMs: 60_000 },
      };
    }
    case 'producer':
      // A core publish or a JetStream publish (whose ack the server sends to the inbox): no $JS.API.
      return {
        publish: { allow: [`health.${token('tenantId', identity.tenantId)}.>`] },
        subscribe: { allow: [inbox] },
      };
    case 'event-feed':
      return { publish: { allow: [] }, subscribe: { allow: [inbox, 'incident.>', 'remediation.>', 'compliance.>'] } };
    case 'chaos':
      return { publish: { allow: [DEMO_AGENT_SUBJECTS.chaos, DEMO_AGENT_SUBJECTS.status] }, subscribe: { allow: [inbox] } };
    case 'ops': {
      const streams = Object.values(S);
      return {
        publish: {
          allow: [
            DEMO_AGENT_SUBJECTS.chaos,
            DEMO_AGENT_SUBJECTS.status,
            '$JS.API.INFO',
            ...streams.flatMap((st) => [
              `$JS.API.STREAM.INFO.${st}`,
              `$JS.API.STREAM.MSG.GET.${st}`,
              `$JS.API.DIRECT.GET.${st}.>`,
              `$JS.API.CONSUMER.LIST.${st}`,
              `$JS.API.CONSUMER.NAMES.${st}`,
              `$JS.API.CONSUMER.INFO.${st}.*`,
            ]),
          ],
        },
        subscribe: { allow: [inbox, 'incident.>', 'remediation.>', 'compliance.>', 'security.>'] },
      };
    }
  }
}

/**
 * A fleet's service as systemIdentities reads it: its instances, the agent running them (absent:
 * the demo fleet's `demo-fleet`), and the standby another agent keeps of it in another region (its
 * instances named as the primary's they stand in for).
 */
interface FleetServiceShape {
  service: string;
  instances: string[];
  agentId?: string;
  standby?: { agentId: string; region: string; instances: string[] };
}

/**
 * The identities `npm start` and the end-to-end tests run: four services, one agent per agent id
 * the fleet names (the instances it runs, and the standbys it keeps with their failovers), the
 * demo tenants' producers and the tools.
 */
export function systemIdentities(fleet: { tenants: { tenantId: string; services: FleetServiceShape[] }[] }): NatsIdentity[] {
  const agents = new Map<string, { targets: AgentTarget[]; standbys: AgentStandby[] }>();
  const agent = (agentId: string) => {
    const found = agents.get(agentId) ?? { targets: [], standbys: [] };
    agents.set(agentId, found);
    return found;
  };
  for (const t of fleet.tenants) {
    for (const s of t.services) {
      agent(s.agentId ?? 'demo-fleet').targets.push(...s.instances.map((instance) => ({ tenantId: t.tenantId, service: s.service, instance })));
    }
  }
  for (const t of fleet.tenants) {
    for (const s of t.services) {
      if (s.standby) agent(s.standby.agentId).standbys.push({ tenantId: t.tenantId, service: s.service, region: s.standby.region, instances: s.standby.instances });
    }
  }
  return [
    ...(['detector', 'decision', 'executor', 'auditor'] as const).map((service) => ({ kind: 'service', service }) as const),
    ...[...agents].map(([agentId, { targets, standbys }]) => ({ kind: 'agent', agentId, targets, ...(standbys.length > 0 ? { standbys } : {}) }) as const),
    ...fleet.tenants.map((t) => ({ kind: 'producer', tenantId: t.tenantId }) as const),
    { kind: 'event-feed' },
    { kind: 'chaos' },
    { kind: 'ops' },
  ];
}

/** NATS subject matching: `*` one token, `>` one or more trailing tokens. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const t = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length || (p[i] !== '*' && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

/** Whether the rules let a concrete subject through (deny wins), as the server decides it. */
export function allows(rules: SubjectRules, subject: string): boolean {
  return rules.allow.some((a) => subjectMatches(a, subject)) && !(rules.deny ?? []).some((d) => subjectMatches(d, subject));
}
