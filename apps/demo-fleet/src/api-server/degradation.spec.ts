import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DEGRADATION_SETTINGS, degradeMessage, leakBytes, treatRequest, type Degradation, type DegradationSettings } from './degradation.js';

const MiB = 1024 * 1024;
const settings: DegradationSettings = { errorShare: 0.8, slowMs: 400, leakBytesPerSecond: 4 * MiB };

describe('treatRequest', () => {
  it.each<[string, Degradation | null, string, number, { fail: boolean; delayMs: number }]>([
    ['healthy: every request served at once', null, '/v1/orders', 0, { fail: false, delayMs: 0 }],
    ['errors: a roll under the share fails', 'errors', '/v1/orders', 0.79, { fail: true, delayMs: 0 }],
    ['errors: a roll at the share is served', 'errors', '/v1/orders', 0.8, { fail: false, delayMs: 0 }],
    ['errors: any path but /healthz fails', 'errors', '/v1/orders/acme-health-ord-1?x=1', 0, { fail: true, delayMs: 0 }],
    ['errors: /healthz still answers', 'errors', '/healthz', 0, { fail: false, delayMs: 0 }],
    ['slow: every request waits', 'slow', '/v1/orders', 0.5, { fail: false, delayMs: 400 }],
    ['slow: /healthz does not wait (the agent checks it after a restart)', 'slow', '/healthz?probe=1', 0.5, { fail: false, delayMs: 0 }],
    ['leak: requests are unaffected, only memory grows', 'leak', '/v1/orders', 0, { fail: false, delayMs: 0 }],
  ])('%s', (_name, degradation, url, roll, expected) => {
    expect(treatRequest(degradation, settings, url, roll)).toEqual(expected);
  });

  it('fails about the configured share of requests over uniform rolls', () => {
    const rolls = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const failed = rolls.filter((roll) => treatRequest('errors', settings, '/v1/orders', roll).fail).length;
    expect(failed).toBe(800);
  });
});

describe('leakBytes', () => {
  const limit = 256 * MiB;
  it.each<[string, Degradation | null, number, number, number]>([
    ['not leaking: nothing', null, 250, 70 * MiB, 0],
    ['another degradation: nothing', 'slow', 250, 70 * MiB, 0],
    ['leaking: the rate times the tick', 'leak', 250, 70 * MiB, 1 * MiB],
    ['leaking: a longer tick retains more', 'leak', 1000, 70 * MiB, 4 * MiB],
    ['near the limit: only up to it', 'leak', 1000, limit - 1000, 1000],
    ['at the limit: stops, as an OOM kill would end it', 'leak', 1000, limit, 0],
    ['over the limit: stops', 'leak', 1000, limit + MiB, 0],
  ])('%s', (_name, degradation, tickMs, rss, expected) => {
    expect(leakBytes(degradation, settings, tickMs, rss, limit)).toBe(expected);
  });
});

describe('degradeMessage', () => {
  it.each([
    ['start errors', { type: 'degrade', degradation: 'errors' }, true],
    ['start slow', { type: 'degrade', degradation: 'slow' }, true],
    ['start a leak', { type: 'degrade', degradation: 'leak' }, true],
    ['stop simulating', { type: 'degrade', degradation: null }, true],
    ['an unknown degradation', { type: 'degrade', degradation: 'explode' }, false],
    ['a missing degradation', { type: 'degrade' }, false],
    ['another message type', { type: 'shutdown', degradation: null }, false],
    ['an unknown field', { type: 'degrade', degradation: 'slow', ms: 5 }, false],
    ['not an object', 'errors', false],
  ])('%s: valid = %s', (_name, message, valid) => {
    expect(degradeMessage.safeParse(message).success).toBe(valid);
  });
});

describe('DEFAULT_DEGRADATION_SETTINGS against the demo rules (deploy/demo/detector-rules.json)', () => {
  const rules = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'deploy', 'demo', 'detector-rules.json'), 'utf8')) as {
    defaults: { latency: { open: number }; anomaly: { k: number; metrics: { latency: { minSpread: number } } } };
  };
  const { latency, anomaly } = rules.defaults;

  it('makes slow a latency anomaly, not a latency threshold breach', () => {
    // Below the static p99 threshold (which, firing, would also suppress the anomaly) …
    expect(DEFAULT_DEGRADATION_SETTINGS.slowMs).toBeLessThan(latency.open);
    // … and more than k spreads above even a zero baseline.
    expect(DEFAULT_DEGRADATION_SETTINGS.slowMs).toBeGreaterThan(anomaly.k * anomaly.metrics.latency.minSpread);
  });

  it('fails far more requests than the error-rate rule tolerates (5 %)', () => {
    expect(DEFAULT_DEGRADATION_SETTINGS.errorShare).toBeGreaterThanOrEqual(0.5);
  });
});
