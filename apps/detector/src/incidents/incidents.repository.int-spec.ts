import type { DataSource, EntityManager } from 'typeorm';
import { newEvent, newEventId } from '@autoheal/contracts';
import { outboxBatch } from '@autoheal/persistence';
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
    ds = detectorDataSource(db.url);
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

  function announcement(incidentId: string) {
    return outboxBatch([newEvent('incident.resolved', { tenantId: 'acme', producer: 'test', data: { incidentId, service: 'api', instance: 'x', kind: 'heartbeat_missed', resolvedAt: new Date().toISOString(), reason: 'test', durationMs: 1 } })]);
  }

  async function outboxHas(m: EntityManager, id: string): Promise<boolean> {
    const rows: unknown[] = await m.query(`SELECT 1 FROM detector.outbox WHERE id = $1`, [id]);
    return rows.length === 1;
  }

  it('stores the announcement with an insert, and none when the fingerprint is already open', async () => {
    await ds.transaction(async (m) => {
      const first = row('fp-open');
      const announced = announcement(first.incidentId);
      expect(await incidentsRepository.insertOpen(m, first, announced)).toBe(true);
      expect(await outboxHas(m, announced.rows[0].id)).toBe(true);

      const second = announcement(newEventId());
      expect(await incidentsRepository.insertOpen(m, { ...row('fp-open') }, second)).toBe(false);
      expect(await outboxHas(m, second.rows[0].id)).toBe(false);
    });
  });

  it('stores the announcement of an update or a resolve only while the incident is open', async () => {
    await ds.transaction(async (m) => {
      const open = row('fp-change');
      await incidentsRepository.insertOpen(m, open, announcement(open.incidentId));
      const change = { severity: 'critical' as const, evidence: {}, flapping: false, updatedAt: new Date() };

      const updated = announcement(open.incidentId);
      expect(await incidentsRepository.update(m, open.incidentId, change, updated)).toBe(true);
      expect(await outboxHas(m, updated.rows[0].id)).toBe(true);

      const resolved = announcement(open.incidentId);
      expect(await incidentsRepository.markResolved(m, open.incidentId, new Date(), 'test', resolved)).toBe(true);
      expect(await outboxHas(m, resolved.rows[0].id)).toBe(true);

      const late = [announcement(open.incidentId), announcement(open.incidentId)];
      expect(await incidentsRepository.update(m, open.incidentId, change, late[0])).toBe(false);
      expect(await incidentsRepository.markResolved(m, open.incidentId, new Date(), 'again', late[1])).toBe(false);
      for (const l of late) expect(await outboxHas(m, l.rows[0].id)).toBe(false);
    });
  });
});
