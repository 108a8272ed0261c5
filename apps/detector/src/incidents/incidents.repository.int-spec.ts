import type { DataSource, EntityManager } from 'typeorm';
import { newEvent, newEventId } from '@autoheal/contracts';
import { outboxBatch, type OutboxBatch } from '@autoheal/persistence';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { detectorDataSource } from '../data-source.js';
import { incidentsRepository, type NewIncidentRow } from './incidents.repository.js';

// Each write carries the outbox rows announcing it in the same statement; they must go in
// exactly when the write happened, never for a write that did not.
describe('incidents repository (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = detectorDataSource(db.roleUrl('detector'));
    await ds.initialize();
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  function row(fingerprint: string): NewIncidentRow {
    return {
      incidentId: newEventId(),
      fingerprint,
      tenantId: 'acme',
      service: 'api',
      instance: fingerprint,
      kind: 'heartbeat_missed',
      ruleKey: 'heartbeat',
      scope: 'instance',
      severity: 'major',
      signalAt: new Date(),
      openedAt: new Date(),
      flapping: false,
      traceContext: {},
      evidence: {},
    };
  }

  function resolvedEvent(incidentId: string) {
    return newEvent('incident.resolved', { tenantId: 'acme', producer: 'test', data: { incidentId, service: 'api', instance: 'x', kind: 'heartbeat_missed', resolvedAt: new Date().toISOString(), reason: 'test', durationMs: 1 } });
  }

  /** One announcement per incident, in their order. */
  function announcement(...incidentIds: string[]) {
    return outboxBatch(incidentIds.map(resolvedEvent));
  }

  /** The ids of `batch`'s rows the outbox holds, in the order they went in. */
  async function stored(m: EntityManager, batch: OutboxBatch): Promise<string[]> {
    const rows: { id: string }[] = await m.query(`SELECT id FROM detector.outbox WHERE id = ANY($1::uuid[]) ORDER BY seq`, [batch.rows.map((r) => r.id)]);
    return rows.map((r) => r.id);
  }

  it('stores the announcement with an insert, and none when the fingerprint is already open', async () => {
    await ds.transaction(async (m) => {
      const first = row('fp-open');
      const announced = announcement(first.incidentId);
      expect(await incidentsRepository.insertOpen(m, [first], announced)).toEqual(new Set([first.incidentId]));
      expect(await stored(m, announced)).toEqual([announced.rows[0].id]);

      const second = row('fp-open');
      const late = announcement(second.incidentId);
      expect(await incidentsRepository.insertOpen(m, [second], late)).toEqual(new Set());
      expect(await stored(m, late)).toEqual([]);
    });
  });

  it('opens a burst in one statement: the announcements of those inserted, in order, and none for a fingerprint already open', async () => {
    await ds.transaction(async (m) => {
      const taken = row('fp-burst-b');
      await incidentsRepository.insertOpen(m, [taken], announcement(taken.incidentId));

      const burst = [row('fp-burst-a'), row('fp-burst-b'), row('fp-burst-c'), { ...row('fp-burst-d'), members: ['x', 'y'], suspectedCause: 'detector_or_network' as const }];
      const announced = announcement(...burst.map((r) => r.incidentId));
      const inserted = await incidentsRepository.insertOpen(m, burst, announced);
      expect(inserted).toEqual(new Set([burst[0].incidentId, burst[2].incidentId, burst[3].incidentId]));
      expect(await stored(m, announced)).toEqual([announced.rows[0].id, announced.rows[2].id, announced.rows[3].id]);

      const open = await incidentsRepository.findOpenByFingerprints(m, ['fp-burst-b', 'fp-burst-d']);
      expect(open.find((r) => r.fingerprint === 'fp-burst-b')?.incidentId).toBe(taken.incidentId);
      expect(open.find((r) => r.fingerprint === 'fp-burst-d')).toMatchObject({ members: ['x', 'y'], suspectedCause: 'detector_or_network' });
    });
  });

  it('stores the announcement of an update or a resolve only while the incident is open', async () => {
    await ds.transaction(async (m) => {
      const open = row('fp-change');
      const closed = row('fp-closed');
      await incidentsRepository.insertOpen(m, [open, closed], announcement(open.incidentId, closed.incidentId));
      await incidentsRepository.markResolved(m, [{ incidentId: closed.incidentId, resolvedAt: new Date(), reason: 'test' }], announcement(closed.incidentId));
      const change = { severity: 'critical' as const, evidence: { errorRate: 0.5 }, flapping: true, members: ['a'], updatedAt: new Date() };

      // The closed incident's update changes nothing and announces nothing; the open one's goes in.
      const updated = announcement(closed.incidentId, open.incidentId);
      const changes = [closed, open].map((r) => ({ ...change, incidentId: r.incidentId }));
      expect(await incidentsRepository.update(m, changes, updated)).toEqual(new Set([open.incidentId]));
      expect(await stored(m, updated)).toEqual([updated.rows[1].id]);
      const [after] = await incidentsRepository.findOpenByFingerprints(m, ['fp-change']);
      expect(after).toMatchObject({ severity: 'critical', flapping: true, members: ['a'] });

      const resolved = announcement(open.incidentId);
      const resolution = { incidentId: open.incidentId, resolvedAt: new Date(), reason: 'test' };
      expect(await incidentsRepository.markResolved(m, [resolution], resolved)).toEqual(new Set([open.incidentId]));
      expect(await stored(m, resolved)).toEqual([resolved.rows[0].id]);

      const late = [announcement(open.incidentId), announcement(open.incidentId)];
      expect(await incidentsRepository.update(m, [changes[1]], late[0])).toEqual(new Set());
      expect(await incidentsRepository.markResolved(m, [{ ...resolution, reason: 'again' }], late[1])).toEqual(new Set());
      for (const l of late) expect(await stored(m, l)).toEqual([]);
    });
  });
});
