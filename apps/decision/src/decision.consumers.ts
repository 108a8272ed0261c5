import type { RunConsumerSpec } from '@autoheal/messaging';

/** Incidents to decide on. Durable name = @EventPattern name = inbox consumer name. */
export const INCIDENTS_CONSUMER = { stream: 'incidents', durable: 'decision-incidents', filterSubject: 'incident.>' } satisfies RunConsumerSpec;

/** Outcomes of the remediations this service planned. */
export const OUTCOMES_CONSUMER = { stream: 'remediations', durable: 'decision-outcomes', filterSubject: 'remediation.>' } satisfies RunConsumerSpec;
