import { scrubChanges, scrubDocument } from './1764200000000-decision-secret-refs';

describe('the migration that removes literal secrets from stored documents', () => {
  const legacy = {
    tenantId: 'acme',
    escalation: { targets: [{ kind: 'pagerduty', name: 'pd', routingKey: 'd41d8cd98f00b204e9800998ecf8427e' }, { kind: 'webhook', name: 'h', secretRef: 'H' }] },
  };

  it('turns a literal routing key into a reference nobody configured, and keeps everything else', () => {
    expect(scrubDocument(legacy)).toEqual({
      tenantId: 'acme',
      escalation: { targets: [{ kind: 'pagerduty', name: 'pd', secretRef: 'LITERAL_SECRET_REMOVED' }, { kind: 'webhook', name: 'h', secretRef: 'H' }] },
    });
  });

  it('returns the same object when there is nothing to remove, so unchanged rows are not rewritten', () => {
    const clean = { tenantId: 'acme', escalation: { targets: [{ kind: 'webhook', name: 'h', secretRef: 'H' }] } };
    expect(scrubDocument(clean)).toBe(clean);
    const changes = [{ path: 'frameworks', to: ['SOC2'] }];
    expect(scrubChanges(changes)).toBe(changes);
  });

  it('removes the value from recorded changes, by path and inside added subtrees', () => {
    const changes = [
      { path: 'escalation.targets.pd.routingKey', from: 'old-key', to: 'new-key' },
      { path: 'escalation', to: legacy.escalation },
    ];
    const text = JSON.stringify(scrubChanges(changes));
    expect(text).not.toMatch(/old-key|new-key|d41d8cd98f00b204e9800998ecf8427e/);
    expect(scrubChanges(changes)).toMatchObject([{ path: 'escalation.targets.pd.routingKey', from: '[removed]', to: '[removed]' }, { path: 'escalation' }]);
  });
});
