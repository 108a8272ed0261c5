/**
 * The demo's load, the api-server's capacity and the tenants' documents are three files that must
 * agree for `npm start`'s latency storm and saturation to be healed by the remediation their
 * playbooks put first. Checked here, so that changing one of them alone fails a test rather than
 * the demo.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEMO_CAPACITY_RPS, DEMO_LOADS } from './demo-load.js';

const ROOT = join(__dirname, '..', '..');
/** Each api-server's own synthetic traffic to /v1/orders (TRAFFIC_RPS, default 5). */
const SYNTHETIC_RPS = 5;

interface TenantDoc {
  inventory: { services: { service: string; instances: unknown[]; throttle?: { limitPerSecond: number }; scaleOut?: { maxInstances: number } }[] };
  playbooks: Record<string, { candidates: { action: string }[] }>;
}

function tenant(name: string): TenantDoc {
  return parse(readFileSync(join(ROOT, 'deploy/tenants', `${name}.yaml`), 'utf8')) as TenantDoc;
}

describe('the demo scenario’s numbers agree', () => {
  it('latency storm: beyond capacity on its own, within it once throttled (a full bucket plus the rate), for every service with a throttle', () => {
    expect(DEMO_LOADS.storm.path).toBe('/v1/orders');
    expect(DEMO_LOADS.storm.ratePerSecond + SYNTHETIC_RPS).toBeGreaterThan(DEMO_CAPACITY_RPS);
    for (const name of ['acme-health', 'globex-pay', 'initech-eu']) {
      for (const service of tenant(name).inventory.services) {
        const limit = service.throttle?.limitPerSecond;
        expect({ service: service.service, fits: limit !== undefined && 2 * Math.ceil(limit) <= DEMO_CAPACITY_RPS }).toEqual({ service: service.service, fits: true });
      }
    }
    // The storm's target (tools/dev/start.js) sheds load first.
    expect(tenant('acme-health').playbooks.latency.candidates[0].action).toBe('throttle');
  });

  it('saturation: beyond one instance’s capacity, within it once spread over the instances scale_out may add', () => {
    expect(DEMO_LOADS.saturation.path).toBe('/v1/reports');
    const initech = tenant('initech-eu');
    const ledger = initech.inventory.services.find((s) => s.service === 'ledger-api');
    expect(ledger?.instances).toHaveLength(1);
    expect(DEMO_LOADS.saturation.ratePerSecond).toBeGreaterThan(DEMO_CAPACITY_RPS);
    expect(DEMO_LOADS.saturation.ratePerSecond / (ledger?.scaleOut?.maxInstances ?? 1)).toBeLessThan(DEMO_CAPACITY_RPS);
    expect(initech.playbooks.saturation.candidates[0].action).toBe('scale_out');
  });

  it('the tenant documents keep multi-candidate playbooks for the kinds the demo breaks', () => {
    for (const name of ['acme-health', 'globex-pay', 'initech-eu']) {
      for (const kind of ['crashed', 'heartbeat_missed', 'error_rate', 'latency', 'saturation']) {
        expect({ name, kind, candidates: tenant(name).playbooks[kind].candidates.length > 1 }).toEqual({ name, kind, candidates: true });
      }
    }
  });
});
