import { agentFor, parseTargetAgents } from './target-agents.js';

describe('EXECUTOR_TARGET_AGENTS', () => {
  const rules = (raw: string) => {
    const parsed = parseTargetAgents(raw);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    return parsed.rules;
  };
  const target = (tenantId: string, service = 'api', instance = 'api-1') => ({ tenantId, service, instance });

  it.each([
    ['*=demo-fleet', target('acme'), 'demo-fleet'],
    ['acme=host-a', target('acme'), 'host-a'],
    ['acme=host-a', target('globex'), null],
    ['*=any,acme=host-a,acme/api/api-2=host-b', target('acme', 'api', 'api-2'), 'host-b'],
    ['*=any,acme=host-a,acme/api/api-2=host-b', target('acme', 'api', 'api-1'), 'host-a'],
    ['acme/api/api-2=host-b,*=any', target('globex'), 'any'],
    ['*/api=host-c', target('globex', 'api'), 'host-c'],
  ])('%s: %j → %s', (raw, t, expected) => {
    expect(agentFor(rules(raw), t)).toBe(expected);
  });

  it.each([
    ['*=primary,acme/api@eu-west-1=standby', target('acme'), 'eu-west-1', 'standby'],
    // The agent running the target never takes its failover, and a standby rule never runs a target.
    ['*=primary,acme/api@eu-west-1=standby', target('acme'), undefined, 'primary'],
    ['*=primary', target('acme'), 'eu-west-1', null],
    ['*=primary,acme/api@eu-west-1=standby', target('acme'), 'us-east-1', null],
    ['*=primary,acme/api@eu-west-1=standby', target('globex'), 'eu-west-1', null],
    ['*@eu-west-1=any-standby,acme/api@eu-west-1=standby', target('acme'), 'eu-west-1', 'standby'],
  ])('%s: the standby of %j in %s → %s', (raw, t, region, expected) => {
    expect(agentFor(rules(raw), t, region)).toBe(expected);
  });

  it.each([
    ['', /required/],
    ['acme', /entry 1: agent id/],
    ['acme.x=a', /entry 1: expected/],
    ['a/b/c/d=a', /entry 1: expected/],
    ['acme=host a', /entry 1: agent id/],
    ['acme@EU=host-a', /entry 1: the region after @/],
    ['acme@eu.west=host-a', /entry 1: the region after @/],
  ])('refuses %j', (raw, message) => {
    const parsed = parseTargetAgents(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems.join('\n')).toMatch(message);
  });
});
