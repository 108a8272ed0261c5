/** An open incident's position against the tenant's maximum time to remediate. */
export interface TtrCandidate {
  openedAt: number;
  maxTimeToRemediateMs: number;
  atRiskAlready: boolean;
  breachedAlready: boolean;
}

export type TtrVerdict = 'ok' | 'at_risk' | 'breach';

/**
 * At risk once `atRiskShare` of the allowed time has passed without a successful remediation,
 * breached once all of it has. Each is reported once per incident; a breach reported without a
 * prior at-risk (the check ran late) is still a breach.
 */
export function ttrVerdict(c: TtrCandidate, now: number, atRiskShare: number): TtrVerdict {
  const elapsed = now - c.openedAt;
  if (elapsed >= c.maxTimeToRemediateMs) return c.breachedAlready ? 'ok' : 'breach';
  if (elapsed >= c.maxTimeToRemediateMs * atRiskShare) return c.atRiskAlready ? 'ok' : 'at_risk';
  return 'ok';
}
