/**
 * How long a tenant's audit trail is kept, per compliance framework: `retainDays` in all (the
 * database, then the archive), of which the latest `onlineDays` stay in the database, immediately
 * queryable. A tenant under several frameworks keeps the longest of each (the strictest wins).
 * The decision service's profile presets (`auditRetentionDays`) and the auditor's retention job
 * both read this table, so the two cannot disagree.
 *
 * | framework | retain | online | source |
 * |---|---|---|---|
 * | PCI DSS | 365 | 92 | Req. 10.5.1 (v4.0): audit log history retained for at least 12 months, the most recent three months immediately available for analysis (92 days: the longest three calendar months) |
 * | HIPAA | 2190 | 92 | 45 CFR 164.316(b)(2)(i): documentation retained six years (6 × 365); the rule sets no online window, ours is PCI's |
 * | SOC 2 | 365 | 92 | no fixed period in the Trust Services Criteria; a Type II report's observation period is up to twelve months and its evidence must outlive it; sampled evidence can be restored from the archive, so the online window is ours |
 * | GDPR | 365 | 92 | no period for logs; the rows hold identifiers, not personal data (Art. 5(1)(e) does not shorten this); one year lets a supervisory authority's inquiry (Art. 58) be answered |
 * | none | 90 | 90 | our baseline for a tenant under no framework |
 */
export const AUDIT_RETENTION = {
  PCI_DSS: { retainDays: 365, onlineDays: 92 },
  HIPAA: { retainDays: 6 * 365, onlineDays: 92 },
  SOC2: { retainDays: 365, onlineDays: 92 },
  GDPR: { retainDays: 365, onlineDays: 92 },
} as const satisfies Record<string, AuditRetention>;

export const BASELINE_AUDIT_RETENTION: AuditRetention = { retainDays: 90, onlineDays: 90 };

export interface AuditRetention {
  retainDays: number;
  onlineDays: number;
}

export type RetentionFramework = keyof typeof AUDIT_RETENTION;
