import { partitionSpan, partitionStage, retainUntil, retentionOf, tenantRetention } from './retention-policy';

const UNKNOWN = { retainDays: 2190, onlineDays: 2190 };

describe('retention policy', () => {
  it.each<[string[], number | null, { retainDays: number; onlineDays: number }]>([
    [[], null, { retainDays: 90, onlineDays: 90 }],
    [['PCI_DSS'], null, { retainDays: 365, onlineDays: 92 }],
    [['HIPAA'], null, { retainDays: 2190, onlineDays: 92 }],
    [['GDPR', 'SOC2'], null, { retainDays: 365, onlineDays: 92 }],
    [['PCI_DSS', 'HIPAA'], null, { retainDays: 2190, onlineDays: 92 }],
    [['PCI_DSS'], 500, { retainDays: 500, onlineDays: 92 }],
    // An override below the frameworks' cannot shorten (the decision service refuses it anyway).
    [['PCI_DSS'], 30, { retainDays: 365, onlineDays: 92 }],
  ])('%j with override %j → %j (strictest wins)', (frameworks, override, expected) => {
    expect(retentionOf(frameworks, override)).toEqual(expected);
  });

  it('a tenant keeps the longest retention of every profile it has had', () => {
    const changes = [
      [{ path: 'frameworks', to: ['HIPAA'] }, { path: 'overrides', to: { auditRetentionDays: 3000 } }],
      [{ path: 'frameworks', to: ['GDPR'] }],
      [{ path: 'overrides.auditRetentionDays', to: 400 }],
    ];
    expect(tenantRetention(changes, null, UNKNOWN)).toEqual({ retainDays: 3000, onlineDays: 92 });
    expect(tenantRetention(changes.slice(1), null, UNKNOWN)).toEqual({ retainDays: 400, onlineDays: 92 });
  });

  it('the floor of earlier archives stands when the policy rows are gone; no policy and no floor is the unknown default', () => {
    expect(tenantRetention([], { retainDays: 365, onlineDays: 92 }, UNKNOWN)).toEqual({ retainDays: 365, onlineDays: 92 });
    expect(tenantRetention([[{ path: 'frameworks', to: [] }]], { retainDays: 365, onlineDays: 92 }, UNKNOWN)).toEqual({ retainDays: 365, onlineDays: 92 });
    expect(tenantRetention([], null, UNKNOWN)).toEqual(UNKNOWN);
  });

  it('names months and only months', () => {
    expect(partitionSpan('audit_log_p2026_12')).toEqual({ name: 'audit_log_p2026_12', from: new Date('2026-12-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') });
    expect(partitionSpan('audit_log_default')).toBeNull();
  });

  it('a partition is online, then archived, then dropped, by the longest window of its tenants', () => {
    const jan = partitionSpan('audit_log_p2026_01')!;
    const pci = { retainDays: 365, onlineDays: 92 };
    const hipaa = { retainDays: 2190, onlineDays: 92 };
    const soc2Long = { retainDays: 365, onlineDays: 200 };
    expect(partitionStage(jan, [pci], new Date('2026-05-03T23:59:59Z'))).toBe('online');
    expect(partitionStage(jan, [pci], new Date('2026-05-04T00:00:00Z'))).toBe('archive');
    expect(partitionStage(jan, [pci, soc2Long], new Date('2026-05-04T00:00:00Z'))).toBe('online');
    expect(partitionStage(jan, [pci], new Date('2027-02-01T00:00:00Z'))).toBe('drop');
    expect(partitionStage(jan, [pci, hipaa], new Date('2027-02-01T00:00:00Z'))).toBe('archive');
    expect(retainUntil(jan, hipaa)).toEqual(new Date('2032-01-31T00:00:00Z'));
  });
});
