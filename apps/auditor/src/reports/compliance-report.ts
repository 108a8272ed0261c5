/**
 * A compliance report: per tenant and period, per service, the figures an auditor asks for, each
 * with the controls it evidences and the audit rows it was computed from. The definitions are in
 * the auditor's README ("Compliance reports"); `test/reports/` recomputes every figure from an
 * export bundle with a second, independent implementation of them.
 */
export const COMPLIANCE_REPORT_FORMAT = 'autoheal.compliance-report.v1';

/** The controls figures are mapped to, with what each asks for (the README's table). */
export const CONTROLS = {
  'PCI DSS 10.2.1': 'Audit logs capture all individual user access and actions on system components',
  'PCI DSS 10.2.2': 'Audit logs record user, event type, date and time, success or failure, origination and affected resource',
  'PCI DSS 10.7.2': 'Failures of critical security control systems are detected, alerted and addressed promptly',
  'PCI DSS 10.7.3': 'Failures of critical security control systems are responded to promptly, including restoring them',
  'HIPAA 164.312(b)': 'Audit controls: record and examine activity in systems that contain or use ePHI',
  'SOC2 CC7.2': 'The entity monitors system components for anomalies indicative of failures',
  'SOC2 CC7.3': 'The entity evaluates security events to determine whether they are failures (incidents)',
  'SOC2 CC7.4': 'The entity responds to identified incidents by executing a defined response',
  'SOC2 CC7.5': 'The entity identifies, develops and implements activities to recover from identified incidents',
  'SOC2 CC8.1': 'Changes to infrastructure and software are authorized, documented, approved and implemented',
  'GDPR 32(1)(b)': 'Ensure the ongoing availability and resilience of processing systems and services',
  'GDPR 32(1)(c)': 'Restore the availability of and access to personal data in a timely manner after an incident',
  'GDPR 32(1)(d)': 'Regularly test, assess and evaluate the effectiveness of technical and organisational measures',
  'GDPR 33(5)': 'Document any personal data breach: its facts, effects and the remedial action taken',
} as const;
export type ControlId = keyof typeof CONTROLS;

/** The figures, in the order a report lists them within a service. */
export const FIGURE_NAMES = ['availability', 'detection_time', 'time_to_remediate', 'actions', 'refusals', 'breach', 'approval', 'policy_change'] as const;
export type FigureName = (typeof FIGURE_NAMES)[number];

/** Which controls each figure evidences. */
export const FIGURE_CONTROLS: Record<FigureName, readonly ControlId[]> = {
  availability: ['GDPR 32(1)(b)', 'SOC2 CC7.5'],
  detection_time: ['HIPAA 164.312(b)', 'PCI DSS 10.7.2', 'SOC2 CC7.2', 'SOC2 CC7.3'],
  time_to_remediate: ['GDPR 32(1)(c)', 'PCI DSS 10.7.3', 'SOC2 CC7.4', 'SOC2 CC7.5'],
  actions: ['HIPAA 164.312(b)', 'PCI DSS 10.2.1', 'SOC2 CC7.4', 'SOC2 CC8.1'],
  refusals: ['GDPR 32(1)(b)', 'HIPAA 164.312(b)', 'PCI DSS 10.2.1', 'SOC2 CC8.1'],
  breach: ['GDPR 33(5)', 'PCI DSS 10.7.2', 'SOC2 CC7.3', 'SOC2 CC7.4'],
  approval: ['HIPAA 164.312(b)', 'PCI DSS 10.2.2', 'SOC2 CC8.1'],
  policy_change: ['GDPR 32(1)(d)', 'HIPAA 164.312(b)', 'PCI DSS 10.2.2', 'SOC2 CC8.1'],
};

/** The tenant itself, for figures of no one service (policy changes, a breach that names none). */
export const TENANT_WIDE = '*';

/** Seq lists longer than this are given as their first and last seq and the count (the links page through them). */
export const EVIDENCE_SEQ_LIMIT = 100;

/** The audit rows a figure was computed from. */
export interface Evidence {
  rows: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Every seq, ascending, when `rows` ≤ EVIDENCE_SEQ_LIMIT; null past it. */
  seqs: number[] | null;
  /** Pages of the audit API (`GET /v1/tenants/{tenant}/audit?type=…&cursor=…`) starting at the figure's first row of each event type. */
  links: string[];
}

export type FigureValue = number | string | boolean | null;

export interface Figure {
  service: string;
  name: FigureName;
  /** What the figure is of within its name: `restart/automatic/verified`, a refusal's rule, a breach's rule; '' when one per service. */
  key: string;
  values: Record<string, FigureValue>;
  controls: ControlId[];
  evidence: Evidence;
}

/** The measured thresholds in force at the end of the period: the latest compliance.policy_changed that carried them. */
export interface ThresholdsInForce {
  policyVersion: string;
  availabilityTarget: number;
  maxTimeToRemediateMs: number;
  /** The policy row they come from. */
  seq: number;
}

export interface ComplianceReport {
  format: typeof COMPLIANCE_REPORT_FORMAT;
  tenantId: string;
  /** The period [from, to), RFC 3339 UTC. */
  from: string;
  to: string;
  /** The chain's head when generated: rows after it are not part of the report. */
  throughSeq: number;
  generatedAt: string;
  thresholds: ThresholdsInForce | null;
  services: string[];
  figures: Figure[];
  controls: Record<ControlId, string>;
}
