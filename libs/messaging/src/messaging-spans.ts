import type { NatsConnection } from '@nats-io/transport-node';
import { SpanKind, type Attributes, type SpanOptions } from '@opentelemetry/api';
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
// Messaging attributes are still "development" in the conventions, so they live in the
// incubating entry point; the package is pinned, so their names cannot shift under us.
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
} from '@opentelemetry/semantic-conventions/incubating';

/**
 * Spans of NATS hops as the OpenTelemetry messaging conventions name them: `<operation> <destination
 * template>` (`publish incident.{tenant}.opened`, `process remediation.{tenant}.planned`), kind
 * PRODUCER / CONSUMER / CLIENT, and the `messaging.*` attributes. NATS has no value of its own in
 * the conventions' list of systems; `nats` is what its instrumentations use. The incident id,
 * which every event of an incident carries as its correlation id, is `messaging.message.conversation_id`
 * and `autoheal.incident.id`: search either in a trace backend to find an incident's trace.
 */
export const MESSAGING_SYSTEM = 'nats';

/** Ours, not the conventions': the system-specific pattern they use (messaging.<system>.message.delivery_count). */
export const ATTR_NATS_DELIVERY_COUNT = 'messaging.nats.message.delivery_count';
export const ATTR_TENANT_ID = 'autoheal.tenant.id';
export const ATTR_INCIDENT_ID = 'autoheal.incident.id';
export const ATTR_EVENT_TYPE = 'autoheal.event.type';
/** How a consumer settled a message: ack, nak, dead_letter or reject. */
export const ATTR_OUTCOME = 'autoheal.outcome';

/**
 * The subject with its high-cardinality tokens named instead of given, for span names: the
 * conventions want a destination of low cardinality there, and a subject names a tenant (and,
 * for health and agent commands, an instance).
 */
export function subjectTemplate(subject: string): string {
  const t = subject.split('.');
  switch (t[0]) {
    case 'health':
      return t.length === 4 ? 'health.{tenant}.{service}.{instance}' : subject;
    case 'agent':
      return t.length === 5 && t[1] === 'command' ? 'agent.command.{tenant}.{service}.{instance}' : subject;
    case 'deadletter':
      return t.length === 4 ? `deadletter.${t[1]}.${t[2]}.{tenant}` : subject;
    case 'incident':
    case 'remediation':
    case 'compliance':
    case 'security':
      return t.length >= 3 ? [t[0], '{tenant}', ...t.slice(2)].join('.') : subject;
    default:
      return subject;
  }
}

/** What a span can tell of the event it carries; any field may be missing from a message that failed validation. */
export interface CarriedEvent {
  id?: string;
  type?: string;
  tenantId?: string;
  correlationId?: string | null;
}

/** The autoheal attributes of an event: its tenant, type and (when it has one) incident. */
export function eventAttributes(event: CarriedEvent): Attributes {
  const attributes: Attributes = {};
  if (event.id) attributes[ATTR_MESSAGING_MESSAGE_ID] = event.id;
  if (event.tenantId) attributes[ATTR_TENANT_ID] = event.tenantId;
  if (event.type) attributes[ATTR_EVENT_TYPE] = event.type;
  if (event.correlationId) {
    attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = event.correlationId;
    attributes[ATTR_INCIDENT_ID] = event.correlationId;
  }
  return attributes;
}

/** server.address / server.port of the server the connection is on now. */
function serverAttributes(nc: NatsConnection | undefined): Attributes {
  const server = nc?.getServer();
  if (!server) return {};
  const at = server.lastIndexOf(':');
  const port = Number(server.slice(at + 1));
  return at > 0 && Number.isInteger(port) ? { [ATTR_SERVER_ADDRESS]: server.slice(0, at), [ATTR_SERVER_PORT]: port } : { [ATTR_SERVER_ADDRESS]: server };
}

/** A JetStream publish: `publish <template>`, PRODUCER (its context travels in the message). */
export function publishSpan(nc: NatsConnection, subject: string, bodySize: number, event: CarriedEvent): { name: string; options: SpanOptions } {
  const template = subjectTemplate(subject);
  return {
    name: `publish ${template}`,
    options: {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
        [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
        [ATTR_MESSAGING_DESTINATION_NAME]: subject,
        [ATTR_MESSAGING_DESTINATION_TEMPLATE]: template,
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: bodySize,
        ...serverAttributes(nc),
        ...eventAttributes(event),
      },
    },
  };
}

/** A request that waits for its reply (an agent command): `request <template>`, CLIENT. */
export function requestSpan(nc: NatsConnection, subject: string, bodySize: number, attributes: Attributes = {}): { name: string; options: SpanOptions } {
  const template = subjectTemplate(subject);
  return {
    name: `request ${template}`,
    options: {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
        [ATTR_MESSAGING_OPERATION_NAME]: 'request',
        [ATTR_MESSAGING_DESTINATION_NAME]: subject,
        [ATTR_MESSAGING_DESTINATION_TEMPLATE]: template,
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: bodySize,
        ...serverAttributes(nc),
        ...attributes,
      },
    },
  };
}

/** A durable consumer handling one message: `process <template>`, CONSUMER. */
export function processSpan(subject: string, durable: string, deliveryCount: number, bodySize: number): { name: string; options: SpanOptions } {
  const template = subjectTemplate(subject);
  return {
    name: `process ${template}`,
    options: {
      kind: SpanKind.CONSUMER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
        [ATTR_MESSAGING_OPERATION_NAME]: 'process',
        [ATTR_MESSAGING_DESTINATION_NAME]: subject,
        [ATTR_MESSAGING_DESTINATION_TEMPLATE]: template,
        // A durable JetStream consumer is both: the subscription, and the group its processes compete in.
        [ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME]: durable,
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: durable,
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: bodySize,
        [ATTR_NATS_DELIVERY_COUNT]: deliveryCount,
      },
    },
  };
}
