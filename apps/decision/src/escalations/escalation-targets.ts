import type { EntityManager } from 'typeorm';
import type { Envelope } from '@autoheal/contracts';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import type { TenantDocument } from '../planning/policy-port.js';
import { deliveriesRepository } from './deliveries.repository.js';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Both kinds name their credential (`secretRef`); its value is resolved only when a delivery is sent. */
export type EscalationTarget =
  | { kind: 'pagerduty'; name: string; url: string; secretRef: string }
  | { kind: 'webhook'; name: string; url: string; secretRef: string };

/** The escalation targets a tenant document declares, with PagerDuty's endpoint filled in where none is given. */
export function escalationTargetsOf(document: TenantDocument): EscalationTarget[] {
  return (document.escalation?.targets ?? []).map((t): EscalationTarget => {
    switch (t.kind) {
      case 'pagerduty':
        return { kind: 'pagerduty', name: t.name, secretRef: t.secretRef, url: t.url ?? PAGERDUTY_EVENTS_URL };
      case 'webhook':
        return { kind: 'webhook', name: t.name, url: t.url, secretRef: t.secretRef };
      default: {
        const unreachable: never = t;
        throw new Error(`unhandled escalation target ${JSON.stringify(unreachable)}`);
      }
    }
  });
}

/** What an escalation says, whichever target receives it. */
export interface EscalationMessage {
  tenantId: string;
  incidentId: string;
  service: string;
  instance: string;
  severity: string;
  reason: string;
  policyVersion: string;
}

/** PagerDuty Events v2 severities are critical, error, warning, info. */
function pagerDutySeverity(severity: string): 'critical' | 'error' | 'warning' | 'info' {
  switch (severity) {
    case 'critical':
      return 'critical';
    case 'major':
      return 'error';
    case 'minor':
      return 'warning';
    default:
      return 'info';
  }
}

/**
 * The JSON body stored for a target, without any credential: the delivery adds PagerDuty's
 * `routing_key` (or the webhook's signature) from the resolved secret when it sends. The dedup key
 * is the incident id, so a page is raised once per incident.
 */
export function deliveryBody(target: EscalationTarget, message: EscalationMessage): Record<string, unknown> {
  const summary = `[${message.tenantId}] ${message.service}/${message.instance}: ${message.reason}`.slice(0, 1024);
  switch (target.kind) {
    case 'pagerduty':
      return {
        event_action: 'trigger',
        dedup_key: message.incidentId,
        payload: {
          summary,
          source: `autoheal/${message.tenantId}/${message.service}/${message.instance}`,
          severity: pagerDutySeverity(message.severity),
          custom_details: { policyVersion: message.policyVersion, reason: message.reason },
        },
      };
    case 'webhook':
      return { type: 'autoheal.escalation', dedupKey: message.incidentId, summary, ...message };
    default: {
      const unreachable: never = target;
      throw new Error(`unhandled target ${JSON.stringify(unreachable)}`);
    }
  }
}

/**
 * Queues the escalation for every target the tenant declares: one delivery per incident and
 * target, whichever escalation of the incident comes first (a refused plan, a failed
 * remediation, an approval nobody gave in time) — later ones find it queued already.
 */
export async function enqueueEscalation(m: EntityManager, document: TenantDocument, message: EscalationMessage, now: Date): Promise<void> {
  const targets = escalationTargetsOf(document);
  await deliveriesRepository.enqueue(m, message.tenantId, message.incidentId, targets.map((target) => ({ target, payload: deliveryBody(target, message) })), now);
}

/** Queues the escalation an event announces, to the targets of the tenant's current document. */
export async function enqueueEscalationOf(m: EntityManager, escalated: Envelope<'remediation.escalated'>, severity: string, now: Date): Promise<void> {
  const tenant = await tenantsRepository.find(m, escalated.tenantId);
  if (!tenant) return;
  const { incidentId, service, instance, reason, policyVersion } = escalated.data;
  await enqueueEscalation(m, tenant.document, { tenantId: escalated.tenantId, incidentId, service, instance, severity, reason, policyVersion }, now);
}
