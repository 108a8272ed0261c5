/**
 * Several detectors split the fleet, as processes against a real nats-server and Postgres:
 * every instance is watched by exactly one of them, and when one is killed (SIGKILL: no last
 * snapshot, no goodbye) the other takes its partitions over, losing no incident and repeating
 * none — including incidents the dead one opened and resolved after its last snapshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { isEvent, newEvent, STREAMS, type Envelope } from '@autoheal/contracts';
import { closeNats, connectNats, EventPublisher, provisionStreams } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase, createTestKeys } from '@autoheal/testing';
import { partitionOf } from './partition-hash.js';
import { assignPartitions } from './rendezvous.js';

// Signing keys for the services under test (AUTOHEAL_SIGNING_KEY_FILE, AUTOHEAL_TRUST_FILE).
const keys = createTestKeys();
afterAll(() => keys.remove());

const ENTRY = join(__dirname, '../../dist/main.js');
const PARTITIONS = 16;
const INTERVAL_MS = 200;
/**
 * Missed intervals before a hang (2 s). A takeover holds live heartbeats back while it reads the
 * stream; with 3 (600 ms) one CI run on a loaded 2-core machine, every write synced to disk
 * (`sync_interval: always`), saw that read outlast the deadline and every instance declared hung.
 */
const MISSED_INTERVALS = 10;
const TENANT = 'acme';
const SERVICES = Array.from({ length: 24 }, (_, i) => `svc${i}`);

interface Detector {
  memberId: string;
  child: ChildProcess;
  /** Partitions it said it took over, from its log. */
  owned: number;
  exited: Promise<void>;
}

function startDetector(memberId: string, db: TestDatabase, nats: NatsServerHandle): Detector {
  const child = spawn(process.execPath, [ENTRY], {
    env: {
      ...process.env,
      DATABASE_URL: db.roleUrl('detector'), ...keys.env('detector'),
      NATS_URL: nats.url,
      DETECTOR_PORT: '0',
      DETECTOR_MEMBER_ID: memberId,
      DETECTOR_PARTITIONS: String(PARTITIONS),
      DETECTOR_MEMBER_HEARTBEAT_MS: '200',
      DETECTOR_MEMBER_TTL_MS: '1000',
      DETECTOR_MISSED_INTERVALS: String(MISSED_INTERVALS),
      // Long: the killed detector never saved a snapshot, so its successor reads the stream from the start.
      DETECTOR_SNAPSHOT_INTERVAL_MS: '600000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const detector: Detector = { memberId, child, owned: 0, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { msg?: string; owned?: number };
      if (entry.msg === 'detector took partitions over' || entry.msg === 'detector handed partitions over') detector.owned = entry.owned ?? 0;
    }
  });
  child.stderr.on('data', () => undefined);
  return detector;
}

async function stop(detector: Detector, signal: NodeJS.Signals): Promise<void> {
  if (detector.child.exitCode !== null || detector.child.signalCode !== null) return;
  detector.child.kill(signal);
  await detector.exited;
}

describe('detector partitions (processes, real NATS and Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let nc: NatsConnection;
  let publisher: EventPublisher;
  const detectors: Detector[] = [];
  let beating = new Set(SERVICES);
  let beatTimer: NodeJS.Timeout | undefined;
  let sequence = 0;

  const instanceOf = (service: string) => `${service}-1`;
  const incidentEvents = () => readStream<Envelope>(nc, STREAMS.incidents.name);

  function beat(service: string) {
    return publisher.publish(
      newEvent('health.heartbeat', { tenantId: TENANT, producer: 'test', data: { service, instance: instanceOf(service), intervalMs: INTERVAL_MS, sequence: ++sequence } }),
    );
  }

  function exited(service: string) {
    return publisher.publish(
      newEvent('health.exited', { tenantId: TENANT, producer: 'test', data: { service, instance: instanceOf(service), exitCode: null, signal: 'SIGKILL', observedBy: 'agent' } }),
    );
  }

  /** Opened incidents per `instance/kind`. */
  async function openedCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const e of await incidentEvents()) {
      if (!isEvent(e, 'incident.opened')) continue;
      const key = `${e.data.instance}/${e.data.kind}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    nc = await connectNats({ servers: nats.url, name: 'partitions-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    publisher = new EventPublisher(nc);
    beatTimer = setInterval(() => {
      for (const service of beating) void beat(service).catch(() => undefined);
    }, INTERVAL_MS / 2);
  });

  afterAll(async () => {
    clearInterval(beatTimer);
    await Promise.all(detectors.map((d) => stop(d, 'SIGKILL')));
    await closeNats(nc);
    await nats.stop();
    await db.drop();
  });

  it('splits the fleet, and a killed detector’s share moves to the other with no incident lost or repeated', async () => {
    const a = startDetector('det-a', db, nats);
    detectors.push(a);
    // The first detector takes every partition over (the database is new: its migrations run first).
    await expectEventually(() => expect(a.owned).toBe(PARTITIONS), { timeoutMs: 30_000 });
    const b = startDetector('det-b', db, nats);
    detectors.push(b);
    const assignment = assignPartitions(['det-a', 'det-b'], PARTITIONS);
    const ofA = new Set(assignment.get('det-a'));
    await expectEventually(() => {
      expect(b.owned).toBe(assignment.get('det-b')!.length);
      expect(a.owned).toBe(ofA.size);
    }, { timeoutMs: 30_000 });
    const servicesOfA = SERVICES.filter((s) => ofA.has(partitionOf(TENANT, s, PARTITIONS)));
    expect(servicesOfA.length).toBeGreaterThanOrEqual(3);
    expect(servicesOfA.length).toBeLessThan(SERVICES.length);
    const [crashedAndHealed, crashedInGap, hungInGap] = servicesOfA;

    // A sees a crash and, with heartbeats going on, its recovery: open and resolve both committed.
    await exited(crashedAndHealed);
    await expectEventually(async () => {
      const resolved = (await incidentEvents()).filter((e) => isEvent(e, 'incident.resolved') && e.data.instance === instanceOf(crashedAndHealed));
      expect(resolved).toHaveLength(1);
    });

    // A dies without a word; meanwhile one of its instances crashes and another hangs.
    const killedAt = Date.now();
    await stop(a, 'SIGKILL');
    await exited(crashedInGap);
    beating.delete(hungInGap);

    await expectEventually(
      async () => {
        const counts = await openedCounts();
        expect(counts.get(`${instanceOf(crashedInGap)}/crashed`)).toBe(1);
        expect(counts.get(`${instanceOf(hungInGap)}/heartbeat_missed`)).toBe(1);
      },
      { timeoutMs: 20_000 },
    );
    expect(b.owned).toBe(PARTITIONS);
    // The membership TTL is 1 s: the share moved within seconds, not minutes.
    expect(Date.now() - killedAt).toBeLessThan(15_000);

    // Nothing repeated: the crash A opened and resolved did not open again when B read A's
    // events once more, and no instance B took over was declared hung by the takeover itself.
    // Long enough for a wrongly declared hang to show: 1.5 times the hang deadline.
    await new Promise((r) => setTimeout(r, 1.5 * MISSED_INTERVALS * INTERVAL_MS));
    const counts = await openedCounts();
    expect(Object.fromEntries(counts)).toEqual({
      [`${instanceOf(crashedAndHealed)}/crashed`]: 1,
      [`${instanceOf(crashedInGap)}/crashed`]: 1,
      [`${instanceOf(hungInGap)}/heartbeat_missed`]: 1,
    });
  }, 90_000);

  it('watches every instance exactly once while two detectors run', async () => {
    const c = startDetector('det-c', db, nats);
    detectors.push(c);
    const b = detectors[1];
    const assignment = assignPartitions(['det-b', 'det-c'], PARTITIONS);
    await expectEventually(() => {
      expect(c.owned).toBe(assignment.get('det-c')!.length);
      expect(b.owned).toBe(assignment.get('det-b')!.length);
    }, { timeoutMs: 30_000 });
    const before = await openedCounts();
    const stillBeating = [...beating];
    beating = new Set();
    await expectEventually(
      async () => {
        const counts = await openedCounts();
        for (const service of stillBeating) expect(counts.get(`${instanceOf(service)}/heartbeat_missed`)).toBe(1);
      },
      { timeoutMs: 20_000 },
    );
    // Long enough for a wrongly declared hang to show: 1.5 times the hang deadline.
    await new Promise((r) => setTimeout(r, 1.5 * MISSED_INTERVALS * INTERVAL_MS));
    const after = await openedCounts();
    const added = [...after].filter(([key, n]) => n !== (before.get(key) ?? 0)).map(([key]) => key).sort();
    expect(added).toEqual(stillBeating.map((s) => `${instanceOf(s)}/heartbeat_missed`).sort());
  }, 90_000);
});
