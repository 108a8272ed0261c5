import { z } from 'zod';
import { eventEnvelope } from './envelope.js';
import { EVENT_CATALOG, EVENT_TYPES } from './event-types.js';

export const JSON_SCHEMA_ID = 'https://autoheal.dev/schemas/autoheal-events.schema.json';

/**
 * JSON Schema (draft 2020-12) for every event, generated from the zod contracts so that
 * producers outside this repo validate against exactly what our consumers accept.
 */
export function buildEventsJsonSchema(): Record<string, unknown> {
  const envelope = z.toJSONSchema(eventEnvelope, { target: 'draft-2020-12' }) as Record<string, unknown>;
  const health = EVENT_TYPES.filter((t) => t.startsWith('health.'));
  return {
    ...envelope,
    $id: JSON_SCHEMA_ID,
    title: 'autoheal event envelope',
    description:
      'Every autoheal event. Producers outside the repo send health.* events to NATS subject ' +
      'health.<tenantId>.<service>.<instance>; the subject tokens must equal tenantId, data.service ' +
      'and data.instance. Types a producer may send: ' +
      health.join(', ') +
      '.',
    'x-event-versions': Object.fromEntries(EVENT_TYPES.map((t) => [t, EVENT_CATALOG[t].version])),
  };
}
