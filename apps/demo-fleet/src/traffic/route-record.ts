/** Where a failover moved a service's traffic, as the demo's traffic switch records it. */
export interface RouteRecord {
  tenantId: string;
  service: string;
  region: string;
  remediationId: string;
  instances: { instance: string; port: number }[];
  at: string;
}

export type RouteRecordResult = { ok: true; record: RouteRecord } | { ok: false; problems: string[] };

/**
 * The route a failover asks for, from the AUTOHEAL_FAILOVER_* variables the host agent sets for
 * its traffic command (apps/agent README, *Failover*); every missing or malformed one is named.
 */
export function routeRecordFrom(env: NodeJS.ProcessEnv, now: Date): RouteRecordResult {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (!value) problems.push(`${name} is not set`);
    return value ?? '';
  };
  const tenantId = required('AUTOHEAL_FAILOVER_TENANT');
  const service = required('AUTOHEAL_FAILOVER_SERVICE');
  const region = required('AUTOHEAL_FAILOVER_REGION');
  const remediationId = required('AUTOHEAL_FAILOVER_REMEDIATION_ID');
  const instances = required('AUTOHEAL_FAILOVER_INSTANCES')
    .split(',')
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      const port = Number(entry.slice(at + 1));
      if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) problems.push(`AUTOHEAL_FAILOVER_INSTANCES: ${entry} is not <instance>:<port>`);
      return { instance: entry.slice(0, at), port };
    });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, record: { tenantId, service, region, remediationId, instances, at: now.toISOString() } };
}
