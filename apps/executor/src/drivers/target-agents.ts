import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import type { RemediationTarget } from './remediation-driver.js';

/** One entry of EXECUTOR_TARGET_AGENTS: which agent runs the targets a pattern matches. */
export interface TargetAgentRule {
  tenantId: string;
  service: string;
  instance: string;
  /** Set: the agent keeping the standby in this region (failovers); unset: the agent running the target. */
  region?: string;
  agentId: string;
}

const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;

const AGENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `EXECUTOR_TARGET_AGENTS`: which agent runs which targets, so a reply counts only when signed
 * by that agent's key (`agent:<id>` in the trust file). Comma-separated
 * `<tenant>[/<service>[/<instance>]]=<agent id>`, each segment a token or `*`, e.g.
 * `*=demo-fleet` or `acme-health=host-a,acme-health/patient-api/patient-api-2=host-b`.
 * A pattern ending in `@<region>` names instead the agent keeping the standby of the matching
 * services in that region, which takes their failovers into it: `acme-health/patient-api@eu-west-1=host-c`.
 * The most specific matching entry wins. Returns the rules or the list of problems.
 */
export function parseTargetAgents(raw: string): { ok: true; rules: TargetAgentRule[] } | { ok: false; problems: string[] } {
  const rules: TargetAgentRule[] = [];
  const problems: string[] = [];
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) return { ok: false, problems: ['required: at least one <tenant>[/<service>[/<instance>]]=<agent id> (e.g. *=demo-fleet)'] };
  entries.forEach((entry, i) => {
    const eq = entry.indexOf('=');
    const [pattern, region] = (eq === -1 ? '' : entry.slice(0, eq).trim()).split('@');
    const agentId = eq === -1 ? '' : entry.slice(eq + 1).trim();
    const segments = pattern.split('/');
    if (!AGENT_ID.test(agentId)) problems.push(`entry ${i + 1}: agent id must be 1-64 of A-Z a-z 0-9 _ -`);
    else if (segments.length > 3 || !segments.every((s) => s === '*' || SUBJECT_TOKEN_PATTERN.test(s))) {
      problems.push(`entry ${i + 1}: expected <tenant>[/<service>[/<instance>]][@<region>] of tokens or *`);
    } else if (region !== undefined && !REGION.test(region)) {
      problems.push(`entry ${i + 1}: the region after @ must be lower-case letters, digits and -`);
    } else rules.push({ tenantId: segments[0], service: segments[1] ?? '*', instance: segments[2] ?? '*', ...(region !== undefined ? { region } : {}), agentId });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules };
}

/**
 * The agent registered for a target, or null when no rule matches it. With `region`: the agent
 * keeping the target's standby in that region (only `@<region>` rules of that region count);
 * without: the agent running the target (only rules without a region count).
 */
export function agentFor(rules: readonly TargetAgentRule[], target: RemediationTarget, region?: string): string | null {
  let best: { agentId: string; specificity: number } | null = null;
  for (const rule of rules) {
    if (rule.region !== region) continue;
    const segments: [string, string][] = [
      [rule.tenantId, target.tenantId],
      [rule.service, target.service],
      [rule.instance, target.instance],
    ];
    if (!segments.every(([p, v]) => p === '*' || p === v)) continue;
    const specificity = segments.filter(([p]) => p !== '*').length;
    if (best === null || specificity > best.specificity) best = { agentId: rule.agentId, specificity };
  }
  return best?.agentId ?? null;
}
