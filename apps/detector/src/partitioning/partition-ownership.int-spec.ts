import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { expectEventually, findNatsServerBinary, freePort, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { partitionOf } from './partition-hash.js';
import { PartitionOwnership, type OwnershipChange } from './partition-ownership.js';

const HEARTBEAT_MS = 200;
const TTL_MS = 1_000;
const ALL = Array.from({ length: 64 }, (_, p) => p);

describe('PartitionOwnership (real NATS)', () => {
  let nats: NatsServerHandle;
  const connections: NatsConnection[] = [];
  const running: PartitionOwnership[] = [];

  async function member(memberId: string): Promise<{ ownership: PartitionOwnership; nc: NatsConnection; changes: OwnershipChange[] }> {
    const nc = await connect({ servers: nats.url, name: memberId });
    connections.push(nc);
    const ownership = new PartitionOwnership(nc, { memberId, partitions: 64, heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS });
    const changes: OwnershipChange[] = [];
    ownership.onChange((c) => changes.push(c));
    running.push(ownership);
    await ownership.start();
    return { ownership, nc, changes };
  }

  function expectSplit(a: PartitionOwnership, b: PartitionOwnership): void {
    const ownedA = a.ownedPartitions();
    const ownedB = b.ownedPartitions();
    expect(ownedA.filter((p) => ownedB.includes(p))).toEqual([]);
    expect([...ownedA, ...ownedB].sort((x, y) => x - y)).toEqual(ALL);
    expect(ownedA.length).toBeGreaterThan(0);
    expect(ownedB.length).toBeGreaterThan(0);
  }

  beforeEach(async () => {
    nats = await startNatsServer();
  });

  afterEach(async () => {
    for (const o of running.splice(0)) await o.stop();
    for (const nc of connections.splice(0)) if (!nc.isClosed()) await nc.close();
    await nats.stop();
  });

  it('one detector alone owns every partition', async () => {
    const { ownership, changes } = await member('detector-a');
    expect(ownership.ownedPartitions()).toEqual(ALL);
    expect(changes).toEqual([{ gained: ALL, lost: [] }]);
    expect(ownership.owns('acme', 'api')).toBe(true);
  });

  it('two detectors split the partitions with no overlap and no gap, and a graceful stop hands over at once', async () => {
    const a = await member('detector-a');
    const b = await member('detector-b');
    await expectEventually(() => {
      expect(a.ownership.liveMembers()).toEqual(['detector-a', 'detector-b']);
      expectSplit(a.ownership, b.ownership);
    });
    // The same instance is watched by exactly one of them.
    expect(a.ownership.owns('acme', 'api')).not.toBe(b.ownership.owns('acme', 'api'));
    const lostByA = a.changes.flatMap((c) => c.lost);
    expect(lostByA.sort((x, y) => x - y)).toEqual(b.ownership.ownedPartitions());

    const stoppedAt = Date.now();
    await b.ownership.stop();
    expect(b.ownership.ownedPartitions()).toEqual([]);
    await expectEventually(() => expect(a.ownership.ownedPartitions()).toEqual(ALL), { timeoutMs: TTL_MS });
    // The key was deleted: no waiting out the TTL.
    expect(Date.now() - stoppedAt).toBeLessThan(TTL_MS);
  });

  it('takes over a crashed detector’s share within the TTL and a heartbeat', async () => {
    const a = await member('detector-a');
    const b = await member('detector-b');
    await expectEventually(() => expectSplit(a.ownership, b.ownership));
    const share = b.ownership.ownedPartitions();

    // A crash: the connection goes, nothing is cleaned up.
    const crashedAt = Date.now();
    await b.nc.close();
    await expectEventually(() => expect(a.ownership.ownedPartitions()).toEqual(ALL), { timeoutMs: 3 * TTL_MS, intervalMs: 10 });
    const tookOverMs = Date.now() - crashedAt;
    expect(tookOverMs).toBeLessThanOrEqual(TTL_MS + HEARTBEAT_MS + 100);
    expect(a.changes.at(-1)).toEqual({ gained: share, lost: [] });
    // The crashed one stops believing it owns anything too, once it no longer hears itself.
    await expectEventually(() => expect(b.ownership.ownedPartitions()).toEqual([]), { timeoutMs: 3 * TTL_MS });
  });

  it('a third detector joining takes partitions only from the others, never leaving one unowned', async () => {
    const a = await member('detector-a');
    const b = await member('detector-b');
    await expectEventually(() => expectSplit(a.ownership, b.ownership));
    const beforeA = a.ownership.ownedPartitions();
    const beforeB = b.ownership.ownedPartitions();
    const c = await member('detector-c');
    await expectEventually(() => {
      const owned = [a, b, c].flatMap((m) => m.ownership.ownedPartitions());
      expect(owned.sort((x, y) => x - y)).toEqual(ALL);
    });
    expect(a.ownership.ownedPartitions().every((p) => beforeA.includes(p))).toBe(true);
    expect(b.ownership.ownedPartitions().every((p) => beforeB.includes(p))).toBe(true);
    expect(c.ownership.ownedPartitions().length).toBeGreaterThan(0);
  });
});

describe('partitionOf agrees with the NATS server’s partition() subject mapping', () => {
  it('maps health subjects to the same partition the server computes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoheal-partition-'));
    const port = await freePort();
    const config = join(dir, 'nats.conf');
    writeFileSync(config, `listen: 127.0.0.1:${port}\nmappings: { "health.*.*.*": "hp.{{partition(64,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}" }\n`);
    const server = spawn(findNatsServerBinary(), ['-c', config], { stdio: 'ignore' });
    let nc: NatsConnection | undefined;
    try {
      await expectEventually(async () => {
        nc = await connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false });
      });
      const received = new Map<string, number>();
      const sub = nc!.subscribe('hp.>', {
        callback: (_e, msg) => {
          const [, partition, tenant, service] = msg.subject.split('.');
          received.set(`${tenant}/${service}`, Number(partition));
        },
      });
      const pairs: [string, string][] = [];
      for (let i = 0; i < 300; i++) pairs.push([`tenant-${i % 37}`, `svc-${(i * 7919) % 1009}-é`.replace('é', i % 2 ? 'x' : 'é')]);
      for (const [tenant, service] of pairs) nc!.publish(`health.${tenant}.${service}.i-1`, '');
      await nc!.flush();
      await expectEventually(() => expect(received.size).toBe(new Set(pairs.map(([t, s]) => `${t}/${s}`)).size));
      for (const [tenant, service] of pairs) expect([tenant, service, received.get(`${tenant}/${service}`)]).toEqual([tenant, service, partitionOf(tenant, service, 64)]);
      sub.unsubscribe();
    } finally {
      await nc?.close();
      server.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
