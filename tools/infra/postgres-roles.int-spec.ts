/**
 * The database step of the roles set-up, against a real database: a database migrated before the
 * roles existed (its schemas and objects owned by the administrator, as `npm start` left them) is
 * handed to the owner, after which the owner's migrations can change it again.
 */
import { Client } from 'pg';
import { runMigrations } from '@autoheal/persistence';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { detectorDataSource } from '../../apps/detector/src/data-source.js';
import { detectorMigrations } from '../../apps/detector/src/migrations/index.js';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { preparePostgresDatabase } = require('./postgres-roles.js') as { preparePostgresDatabase: (url: string) => Promise<void> };

describe('preparePostgresDatabase (real Postgres)', () => {
  let db: TestDatabase;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new Client({ connectionString: db.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  const owners = async (): Promise<string[]> =>
    (
      await admin.query<{ what: string }>(
        `SELECT 'schema ' || nspname || ' ' || pg_get_userbyid(nspowner) AS what FROM pg_namespace WHERE nspname = 'detector'
         UNION ALL SELECT 'relation ' || c.oid::regclass || ' ' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'detector' AND c.relkind IN ('r', 'S', 'v')
         UNION ALL SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'detector'
         ORDER BY 1`,
      )
    ).rows.map((r) => r.what);

  it("hands a schema the administrator owns, and everything in it, to the owner, whose migrations then run again", async () => {
    const { rows } = await admin.query<{ user: string }>('SELECT current_user AS user');
    const administrator = rows[0].user;
    // As an earlier `npm start` left it: migrated as the administrator.
    await admin.query(`ALTER SCHEMA detector OWNER TO ${administrator}`);
    for (const table of ['incidents', 'instance_snapshots', 'partition_checkpoints', 'incident_causes', 'inbox', 'outbox', 'migrations']) {
      await admin.query(`ALTER TABLE detector.${table} OWNER TO ${administrator}`);
    }
    await admin.query(`CREATE SEQUENCE detector.standalone_seq`);
    await admin.query(`CREATE FUNCTION detector.helper() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
    await admin.query(`CREATE VIEW detector.open_incidents AS SELECT 1 AS one`);
    expect((await owners()).filter((o) => o.endsWith(` ${administrator}`)).length).toBeGreaterThan(8);

    await preparePostgresDatabase(db.url);

    const after = await owners();
    expect(after.filter((o) => !o.endsWith(' autoheal_owner'))).toEqual([]);
    expect(after).toEqual(expect.arrayContaining(['schema detector autoheal_owner', 'relation detector.incidents autoheal_owner', 'function detector.helper() autoheal_owner']));

    // The owner can undo and apply the service's migrations on what it now owns.
    const ds = detectorDataSource(db.roleUrl('owner'));
    await ds.initialize();
    try {
      await ds.undoLastMigration({ transaction: 'each' });
      await runMigrations(ds);
      const applied = await ds.query<{ name: string }[]>(`SELECT name FROM migrations ORDER BY id`);
      expect(applied.map((m) => m.name)).toEqual(detectorMigrations.map((m) => m.name));
    } finally {
      await ds.destroy();
    }
  });

  it('leaves nobody but the database owner able to create in public, and lets the owner create schemas', async () => {
    await preparePostgresDatabase(db.url);
    const { rows } = await admin.query<{ public_create: boolean; owner_create: boolean; detector_create: boolean }>(
      `SELECT has_schema_privilege('autoheal_detector', 'public', 'CREATE') AS public_create,
              has_database_privilege('autoheal_owner', current_database(), 'CREATE') AS owner_create,
              has_database_privilege('autoheal_detector', current_database(), 'CREATE') AS detector_create`,
    );
    expect(rows[0]).toEqual({ public_create: false, owner_create: true, detector_create: false });
  });
});
