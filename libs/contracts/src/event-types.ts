import type { z } from 'zod';
import { alertData, exitedData, heartbeatData, metricsData, stoppingData } from './events/health.events.js';
import { incidentOpenedData, incidentResolvedData, incidentUpdatedData } from './events/incident.events.js';
import {
  remediationApprovedData,
  remediationAwaitingApprovalData,
  remediationDeferredData,
  remediationEscalatedData,
  remediationEscalationDeliveredData,
  remediationFailedData,
  remediationPlannedData,
  remediationRejectedData,
  remediationRolledBackData,
  remediationStartedData,
  remediationSucceededData,
  remediationVerificationFailedData,
  remediationVerifiedData,
} from './events/remediation.events.js';
import {
  complianceActionRefusedData,
  complianceBreachData,
  complianceBreakerOpenedData,
  complianceBreakerResumedData,
  compliancePolicyChangedData,
  complianceTtrAtRiskData,
} from './events/compliance.events.js';
import { securityAccessRefusedData, securityEventRejectedData, securityReplyRejectedData } from './events/security.events.js';

/**
 * Every event type that crosses a service boundary, with the schema of its `data` and its
 * current version. Adding a type here is the only way to make it publishable.
 */
export const EVENT_CATALOG = {
  'health.heartbeat': { version: 1, data: heartbeatData },
  'health.stopping': { version: 1, data: stoppingData },
  'health.metrics': { version: 1, data: metricsData },
  'health.exited': { version: 1, data: exitedData },
  'health.alert': { version: 1, data: alertData },
  'incident.opened': { version: 1, data: incidentOpenedData },
  'incident.updated': { version: 1, data: incidentUpdatedData },
  'incident.resolved': { version: 1, data: incidentResolvedData },
  'remediation.planned': { version: 1, data: remediationPlannedData },
  'remediation.awaiting_approval': { version: 1, data: remediationAwaitingApprovalData },
  'remediation.approved': { version: 1, data: remediationApprovedData },
  'remediation.rejected': { version: 1, data: remediationRejectedData },
  'remediation.escalated': { version: 1, data: remediationEscalatedData },
  'remediation.deferred': { version: 1, data: remediationDeferredData },
  'remediation.escalation_delivered': { version: 1, data: remediationEscalationDeliveredData },
  'remediation.started': { version: 1, data: remediationStartedData },
  'remediation.succeeded': { version: 1, data: remediationSucceededData },
  'remediation.failed': { version: 1, data: remediationFailedData },
  'remediation.rolled_back': { version: 1, data: remediationRolledBackData },
  'remediation.verified': { version: 1, data: remediationVerifiedData },
  'remediation.verification_failed': { version: 1, data: remediationVerificationFailedData },
  'compliance.action_refused': { version: 1, data: complianceActionRefusedData },
  'compliance.policy_changed': { version: 1, data: compliancePolicyChangedData },
  'compliance.ttr_at_risk': { version: 1, data: complianceTtrAtRiskData },
  'compliance.breach': { version: 1, data: complianceBreachData },
  'compliance.breaker_opened': { version: 1, data: complianceBreakerOpenedData },
  'compliance.breaker_resumed': { version: 1, data: complianceBreakerResumedData },
  'security.event_rejected': { version: 1, data: securityEventRejectedData },
  'security.reply_rejected': { version: 1, data: securityReplyRejectedData },
  'security.access_refused': { version: 1, data: securityAccessRefusedData },
} as const;

export type EventType = keyof typeof EVENT_CATALOG;

/**
 * Event types that belong to no tenant: their envelope's tenant is SYSTEM_TENANT_ID (and only
 * theirs may be), their subject `<domain>.@system.<name>`, and the auditor appends them to the
 * system trail.
 */
export const SYSTEM_EVENT_TYPES = ['security.access_refused'] as const satisfies readonly EventType[];
export type SystemEventType = (typeof SYSTEM_EVENT_TYPES)[number];

export function isSystemEventType(type: string): type is SystemEventType {
  return (SYSTEM_EVENT_TYPES as readonly string[]).includes(type);
}
export type EventData<T extends EventType> = z.infer<(typeof EVENT_CATALOG)[T]['data']>;
export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_CATALOG, value);
}
