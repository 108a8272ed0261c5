import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentConfigError, configPath, configuredInstances, loadAgentConfig, parseAgentConfig } from './agent-config.js';

const valid = {
  agentId: 'host-a',
  nats: { url: 'tls://nats.internal:4222', nkeySeedFile: '/etc/autoheal/agent.nk', tlsCaFile: '/etc/autoheal/ca.pem' },
  signing: { keyFile: '/etc/autoheal/agent.pem', trustFile: '/etc/autoheal/trust.json' },
  stateDir: '/var/lib/autoheal-agent',
  services: [
    {
      tenantId: 'acme',
      service: 'api',
      instances: [
        { name: 'api-1', port: 8080 },
        { name: 'api-2', port: 8081 },
      ],
      command: ['/usr/bin/node', 'server.js'],
      workingDir: '/srv/api',
      releases: [{ version: '1.4.0' }, { version: '1.5.0', env: { FEATURE_X: 'on' } }],
    },
  ],
};

function problems(raw: unknown): string[] {
  try {
    parseAgentConfig(raw, 'agent.json');
  } catch (error) {
    if (error instanceof AgentConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('agent config', () => {
  it('fills in the defaults', () => {
    const config = parseAgentConfig(valid);
    expect(config).toMatchObject({ readyTimeoutMs: 10_000, ackTimeoutMs: 5_000, chaos: false, signing: { maxCommandSkewMs: 5_000 } });
    expect(config.services[0]).toMatchObject({ env: {}, ready: { path: '/healthz' }, throttle: 'ipc' });
    expect(config.services[0].ready.pidField).toBeUndefined();
    expect(configuredInstances(config.services)).toEqual([
      { ref: { tenantId: 'acme', service: 'api', instance: 'api-1' }, port: 8080 },
      { ref: { tenantId: 'acme', service: 'api', instance: 'api-2' }, port: 8081 },
    ]);
  });

  it('names every bad field at once', () => {
    const bad = {
      ...valid,
      agentId: 'host a',
      nats: { url: '' },
      signing: { trustFile: '/t.json' },
      services: [
        {
          ...valid.services[0],
          tenantId: 'acme.eu',
          instances: [
            { name: 'api-1', port: 8080 },
            { name: 'api-1', port: 8080 },
          ],
          command: [],
          ready: { path: 'healthz' },
          releases: [{ version: 'previous' }, { version: 'v2', staged: true, env: { 'BAD-NAME': 'x' } }],
        },
      ],
      extra: true,
    };
    expect(problems(bad)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^agentId: /),
        expect.stringMatching(/^nats\.url: /),
        expect.stringMatching(/^signing\.keyFile: /),
        expect.stringMatching(/^services\.0\.tenantId: /),
        expect.stringMatching(/^services\.0\.command: /),
        expect.stringMatching(/^services\.0\.ready\.path: /),
        expect.stringMatching(/^services\.0\.releases\.0\.version: .*reserved/),
        expect.stringMatching(/^services\.0\.releases\.1\.env\.BAD-NAME: /),
        expect.stringMatching(/^\(root\): .*extra/),
      ]),
    );
  });

  it('refuses two instances with one name or one port, and a service with only staged releases', () => {
    const twice = { ...valid, services: [{ ...valid.services[0], instances: [{ name: 'api-1', port: 8080 }, { name: 'api-1', port: 8080 }], releases: [{ version: 'v1', staged: true }] }] };
    expect(problems(twice)).toEqual([
      'services.0.releases: every release is staged: the instances would have none to start on',
      'services.0.instances.1.name: duplicate instance acme/api/api-1',
      "services.0.instances.1.port: port 8080 is also acme/api/api-1's",
    ]);
    // Port 0 (the OS picks) may repeat.
    const zeros = { ...valid, services: [{ ...valid.services[0], instances: [{ name: 'api-1', port: 0 }, { name: 'api-2', port: 0 }] }] };
    expect(problems(zeros)).toEqual([]);
  });

  it('reads the file --config or AUTOHEAL_AGENT_CONFIG names, and says which file is wrong', () => {
    expect(configPath(['--config', '/etc/a.json'], { AUTOHEAL_AGENT_CONFIG: '/etc/b.json' })).toBe('/etc/a.json');
    expect(configPath([], { AUTOHEAL_AGENT_CONFIG: '/etc/b.json' })).toBe('/etc/b.json');
    expect(() => configPath([], {})).toThrow(/--config <file> or set AUTOHEAL_AGENT_CONFIG/);
    const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
    try {
      writeFileSync(join(dir, 'ok.json'), JSON.stringify(valid));
      expect(loadAgentConfig(join(dir, 'ok.json')).agentId).toBe('host-a');
      writeFileSync(join(dir, 'broken.json'), '{"agentId":');
      expect(() => loadAgentConfig(join(dir, 'broken.json'))).toThrow(new RegExp(`invalid agent configuration ${join(dir, 'broken.json')}`));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
