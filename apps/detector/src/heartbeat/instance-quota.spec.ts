import { InstanceQuota } from './instance-quota';

const ref = (tenantId: string, instance: string, service = 'api') => ({ tenantId, service, instance });

describe('InstanceQuota', () => {
  it('admits up to maxPerTenant instances per tenant, always the ones it counts, and never refuses another tenant', () => {
    const quota = new InstanceQuota(2);
    expect(quota.admit(ref('a', 'i-1'), 0)).toBe(true);
    expect(quota.admit(ref('a', 'i-2'), 0)).toBe(true);
    expect(quota.wouldRefuse(ref('a', 'i-3'))).toBe(true);
    expect(quota.admit(ref('a', 'i-3'), 0)).toBe(false);
    expect(quota.admit(ref('a', 'i-1'), 0)).toBe(true);
    expect(quota.wouldRefuse(ref('a', 'i-2'))).toBe(false);
    expect(quota.admit(ref('b', 'i-3'), 0)).toBe(true);
    expect(quota.tracked('a')).toBe(2);
  });

  it('counts restored instances even over the cap, and frees the ones whose partition left', () => {
    const quota = new InstanceQuota(1);
    quota.count(ref('a', 'i-1', 'web'), 0);
    quota.count(ref('a', 'i-2', 'api'), 0);
    expect(quota.tracked('a')).toBe(2);
    expect(quota.admit(ref('a', 'i-3'), 0)).toBe(false);
    quota.release((tenantId, service) => tenantId === 'a' && service === 'api');
    expect(quota.tracked('a')).toBe(1);
    quota.release(() => true);
    expect(quota.tracked('a')).toBe(0);
    expect(quota.admit(ref('a', 'i-3'), 0)).toBe(true);
  });

  it('names the instances idle since a time, and lets one go', () => {
    const quota = new InstanceQuota(2);
    quota.admit(ref('a', 'old'), 1_000);
    quota.admit(ref('a', 'new'), 1_000);
    quota.admit(ref('a', 'new'), 5_000);
    expect(quota.idleSince(2_000)).toEqual([ref('a', 'old')]);
    expect(quota.admit(ref('a', 'third'), 6_000)).toBe(false);
    quota.forget(ref('a', 'old'));
    expect(quota.admit(ref('a', 'third'), 6_000)).toBe(true);
  });
});
