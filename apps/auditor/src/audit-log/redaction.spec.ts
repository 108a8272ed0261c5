import { newEvent } from '@autoheal/contracts';
import { auditEntryForEvent } from './audit-entry';
import { DEFAULT_REDACTED_FIELDS, REDACTED, redactFields, redactionSet } from './redaction';

describe('redactFields', () => {
  const fields = redactionSet([...DEFAULT_REDACTED_FIELDS, 'ssn']);

  it('replaces named fields at any depth, whatever their case or separators, and leaves the rest', () => {
    const value = { a: 1, routing_key: 'rk', nested: { API_KEY: 'k', list: [{ Password: 'p', keep: 'x' }], SSN: '123' }, tokens: 2 };
    expect(redactFields(value, fields)).toEqual({ a: 1, routing_key: REDACTED, nested: { API_KEY: REDACTED, list: [{ Password: REDACTED, keep: 'x' }], SSN: REDACTED }, tokens: 2 });
    // The input is not changed.
    expect(value.nested.list[0].Password).toBe('p');
  });

  it('changes nothing with an empty list', () => {
    const value = { secret: 's' };
    expect(redactFields(value, new Set())).toBe(value);
  });

  it('strips the fields from an event before it becomes an audit entry (and so before it is hashed)', () => {
    const event = newEvent('compliance.policy_changed', {
      tenantId: 'acme',
      producer: 'decision',
      data: { policyVersion: 'sha256:b', previousVersion: 'sha256:a', changedBy: 'ops', changes: [{ path: 'escalation.targets.pd.routingKey', from: 'old-key', to: 'new-key' }, { path: 'x', to: { token: 't', ok: 1 } }] },
    });
    const entry = auditEntryForEvent(event, 'compliance.acme.policy_changed', fields);
    const text = JSON.stringify(entry.payload);
    expect(text).not.toMatch(/"t"|old-key|new-key/);
    expect(entry.payload).toMatchObject({ data: { changes: [{ path: 'escalation.targets.pd.routingKey' }, { path: 'x', to: { token: REDACTED, ok: 1 } }] } });
  });
});
