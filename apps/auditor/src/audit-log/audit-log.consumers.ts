import type { RunConsumerSpec } from '@autoheal/messaging';
import { APPEND_BATCH_MAX } from './append-batcher.js';

// One durable consumer per stream: nats-server 2.9 has no multi-filter consumers. Durable name
// = @EventPattern name = inbox consumer name. An audit event must not be given up on lightly:
// 20 deliveries with the transport's backoff (capped at 30 s) ride out about eight minutes of
// database outage before the message goes to the dead-letter stream.
const MAX_DELIVER = 20;
/**
 * Events handled at once per consumer: each is queued for an append batch at once (in delivery
 * order) and acked once its batch committed; two batches' worth keeps the next batch filling
 * while one commits.
 */
const CONCURRENCY = 2 * APPEND_BATCH_MAX;

export const INCIDENTS_AUDIT_CONSUMER = { stream: 'incidents', durable: 'auditor-incidents', filterSubject: 'incident.>', maxDeliver: MAX_DELIVER, concurrency: CONCURRENCY } satisfies RunConsumerSpec;
export const REMEDIATIONS_AUDIT_CONSUMER = { stream: 'remediations', durable: 'auditor-remediations', filterSubject: 'remediation.>', maxDeliver: MAX_DELIVER, concurrency: CONCURRENCY } satisfies RunConsumerSpec;
export const COMPLIANCE_AUDIT_CONSUMER = { stream: 'compliance', durable: 'auditor-compliance', filterSubject: 'compliance.>', maxDeliver: MAX_DELIVER, concurrency: CONCURRENCY } satisfies RunConsumerSpec;

export const SECURITY_AUDIT_CONSUMER = { stream: 'security', durable: 'auditor-security', filterSubject: 'security.>', maxDeliver: MAX_DELIVER, concurrency: CONCURRENCY } satisfies RunConsumerSpec;

export const AUDIT_CONSUMERS: RunConsumerSpec[] = [INCIDENTS_AUDIT_CONSUMER, REMEDIATIONS_AUDIT_CONSUMER, COMPLIANCE_AUDIT_CONSUMER, SECURITY_AUDIT_CONSUMER];
