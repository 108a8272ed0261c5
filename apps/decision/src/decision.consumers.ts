import type { RunConsumerSpec } from '@autoheal/messaging';

/**
 * Incidents to decide on. Durable name = @EventPattern name = inbox consumer name. Several at
 * once: decisions of different tenants are independent, and those of one tenant queue on its
 * advisory lock, so the caps hold whatever the order.
 */
export const INCIDENTS_CONSUMER = { stream: 'incidents', durable: 'decision-incidents', filterSubject: 'incident.>', concurrency: 8 } satisfies RunConsumerSpec;

/** Outcomes of the remediations this service planned. */
export const OUTCOMES_CONSUMER = { stream: 'remediations', durable: 'decision-outcomes', filterSubject: 'remediation.>' } satisfies RunConsumerSpec;
