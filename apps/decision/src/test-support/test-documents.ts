// Builders shared by the decision service's integration tests (excluded from the build).
import { newEvent, newEventId, type Envelope, type IncidentOpenedData } from '@autoheal/contracts';
import { tenantDocumentSchema, type TenantDocument } from '../planning/policy-port.js';

/**
 * A tenant document declaring `count` instances `api-1…api-<count>` of service `api` on a
 * dedicated pool in us-east-1 (an empty inventory for 0), under SOC 2 unless `extra` says otherwise.
 */
export function apiTenantDoc(tenantId: string, count: number, extra: Partial<Record<keyof TenantDocument, unknown>> = {}): TenantDocument {
  const instances = Array.from({ length: count }, (_, i) => ({ instance: `api-${i + 1}`, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }));
  return tenantDocumentSchema.parse({
    apiVersion: 'autoheal/v1',
    tenantId,
    frameworks: ['SOC2'],
    inventory: { services: count === 0 ? [] : [{ service: 'api', instances }] },
    ...extra,
  });
}

/**
 * A raw PCI DSS tenant document (as a client sends it) declaring 40 instances `api-1…api-40`,
 * whose hangs are answered by `replace` — an action PCI DSS puts behind an approval.
 */
export function approvalGatedTenantDoc(tenantId: string): Record<string, unknown> {
  return {
    apiVersion: 'autoheal/v1',
    tenantId,
    frameworks: ['PCI_DSS'],
    inventory: { services: [{ service: 'api', instances: Array.from({ length: 40 }, (_, k) => ({ instance: `api-${k + 1}`, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' })) }] },
    playbooks: { heartbeat_missed: { candidates: [{ action: 'replace' }] } },
  };
}

/** An incident.opened as the detector publishes it, detected now: a hang of `api/<instance>` unless `data` says otherwise. */
export function incidentOpenedNow(tenantId: string, instance: string, data: Partial<IncidentOpenedData> = {}): Envelope<'incident.opened'> {
  const incidentId = data.incidentId ?? newEventId();
  const at = new Date().toISOString();
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector',
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance, kind: 'heartbeat_missed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 3, evidence: {}, ...data },
  });
}
