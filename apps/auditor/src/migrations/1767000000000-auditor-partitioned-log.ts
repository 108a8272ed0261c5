import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OWNER_ROLE, READER_ROLES, SERVICE_ROLES } from '@autoheal/persistence';
import { TENANT_ROW_POLICY } from './1766200000000-auditor-read-isolation.js';

const WRITER = SERVICE_ROLES.auditor;
const READER = READER_ROLES.auditorReader;

const ENSURE = 'auditor.audit_ensure_partitions(timestamptz, integer)';
const DROP = 'auditor.audit_drop_partition(text, timestamptz)';

const COLUMNS = `
  tenant_id      text        NOT NULL,
  seq            bigint      NOT NULL CHECK (seq >= 1),
  event_id       text        NOT NULL,
  event_type     text        NOT NULL,
  occurred_at    timestamptz NOT NULL,
  recorded_at    timestamptz NOT NULL,
  actor          text        NOT NULL,
  action         text        NOT NULL,
  resource       jsonb       NOT NULL,
  outcome        text        NOT NULL CHECK (outcome IN ('success', 'failure', 'refused', 'info')),
  source         text        NOT NULL,
  correlation_id text,
  causation_id   text,
  trace_id       text,
  payload        jsonb       NOT NULL,
  prev_hash      text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash           text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')`;

const COLUMN_LIST = `tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
  source, correlation_id, causation_id, trace_id, payload, prev_hash, hash`;

/**
 * The audit log becomes a table partitioned by month of `recorded_at` (UTC), so that what is past
 * its retention leaves as a whole partition (archived, verified, tombstoned, then dropped: README
 * "Retention") instead of by DELETE, which the log refuses.
 *
 * - `audit_log`: `PARTITION BY RANGE (recorded_at)`, monthly partitions `audit_log_pYYYY_MM` plus
 *   `audit_log_default` for anything outside them. Every existing row is copied over, hashes as
 *   they were; the old table is dropped.
 * - **Uniqueness of (tenant_id, seq).** A unique index on a partitioned table must contain the
 *   partition key, so the primary key is `(tenant_id, seq, recorded_at)`, which by itself would
 *   allow one seq twice at two times. What keeps a seq unique per tenant: (1) seq is assigned only
 *   by `append_audit_entry`, under the tenant's advisory lock, as head + 1 — serially; (2) every
 *   path of the auditor that appends inserts the row's seal into `audit_seals` in the same
 *   transaction, and `audit_seals` is not partitioned and has PRIMARY KEY (tenant_id, seq): a
 *   second row at a seq aborts its transaction there; (3) `append_audit_entry` never lets
 *   `recorded_at` go back within a tenant (it takes the head's when the clock reads earlier), so
 *   seq and recorded_at grow together and a tenant's rows fill partitions in seq order; (4) a row
 *   written past the function (the owner, triggers off) has no seal and is named by verify.
 * - `event_id` is no longer UNIQUE for the same reason: `append_audit_entry` checks for it under
 *   the tenant's lock (an event belongs to one tenant, and each consumer's inbox refuses a
 *   redelivery before that); an index keeps the check a lookup.
 * - The same triggers refuse UPDATE and DELETE (per row; cloned onto every partition) and TRUNCATE
 *   (on the parent and on each partition, since a TRUNCATE trigger does not reach partitions).
 * - Row-level security and grants as before, on the parent: no role but the owner has any right
 *   on a partition, so every read goes through the parent and its policies.
 * - `audit_ensure_partitions(at, months)`: creates the month of `at` and the `months` after it
 *   when missing (SECURITY DEFINER, owner). The auditor's role may run it (a periodic task keeps
 *   months ahead); it creates, never drops.
 * - `audit_archives`: each partition's bundle per tenant (where, manifest hash, verified when,
 *   retained until). `audit_tombstones`: the signed record of a range of a tenant's chain that
 *   left the database (append-only, like the checkpoints); `append_audit_entry` continues a
 *   chain after its last tombstone when no row of it is left.
 * - `audit_drop_partition(name, now)`: detaches and drops one partition, only when every tenant
 *   with rows in it has a verified archive whose retention has passed at `now` and a tombstone
 *   covering exactly its rows there. Executable by the owner only: the auditor's role cannot
 *   remove a row by any path (the retention job's drop step logs in as the owner; README).
 */
export class AuditorPartitionedLog1767000000000 implements MigrationInterface {
  name = 'AuditorPartitionedLog1767000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE auditor.audit_log IN ACCESS EXCLUSIVE MODE`);
    await q.query(`ALTER TABLE auditor.audit_log RENAME TO audit_log_unpartitioned`);
    for (const index of ['audit_log_pkey', 'audit_log_event_id_key', 'audit_log_type_idx', 'audit_log_correlation_idx', 'audit_log_occurred_idx']) {
      await q.query(`ALTER INDEX IF EXISTS auditor.${index} RENAME TO ${index.replace('audit_log_', 'audit_log_unpartitioned_')}`);
    }

    await q.query(refuseChangeFunction(true));
    await q.query(`CREATE TABLE auditor.audit_log (${COLUMNS}, PRIMARY KEY (tenant_id, seq, recorded_at)) PARTITION BY RANGE (recorded_at)`);
    await q.query(`CREATE INDEX audit_log_event_idx ON auditor.audit_log (event_id)`);
    await q.query(`CREATE INDEX audit_log_type_idx ON auditor.audit_log (tenant_id, event_type, seq)`);
    await q.query(`CREATE INDEX audit_log_correlation_idx ON auditor.audit_log (tenant_id, correlation_id, seq) WHERE correlation_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_log_occurred_idx ON auditor.audit_log (tenant_id, occurred_at)`);
    await q.query(`CREATE TABLE auditor.audit_log_default PARTITION OF auditor.audit_log DEFAULT`);
    await q.query(`
      CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON auditor.audit_log
      FOR EACH ROW EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
    for (const table of ['audit_log', 'audit_log_default']) {
      await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON auditor.${table} FOR EACH STATEMENT EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
    }

    await q.query(`
      CREATE FUNCTION auditor.audit_ensure_partitions(p_at timestamptz, p_months integer) RETURNS SETOF text
      LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        v_month timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
        v_from timestamptz;
        v_to timestamptz;
        v_name text;
      BEGIN
        IF p_months < 0 OR p_months > 120 THEN
          RAISE EXCEPTION 'months must be 0 to 120, got %', p_months USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- One creator at a time: two replicas creating the same month would otherwise race.
        PERFORM pg_advisory_xact_lock(hashtext('autoheal.audit_log.partitions'), 0);
        FOR i IN 0..p_months LOOP
          v_from := (v_month + make_interval(months => i)) AT TIME ZONE 'UTC';
          v_to := (v_month + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
          v_name := 'audit_log_p' || to_char(v_month + make_interval(months => i), 'YYYY_MM');
          CONTINUE WHEN to_regclass('auditor.' || v_name) IS NOT NULL;
          -- Rows of that month already in the default partition would make the new one refuse to attach: leave the month to the default.
          IF EXISTS (SELECT 1 FROM auditor.audit_log_default WHERE recorded_at >= v_from AND recorded_at < v_to) THEN
            RAISE WARNING 'audit_log_default holds rows of %: that month stays in the default partition', v_name;
            CONTINUE;
          END IF;
          EXECUTE format('CREATE TABLE auditor.%I PARTITION OF auditor.audit_log FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
          EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON auditor.%I FOR EACH STATEMENT EXECUTE FUNCTION auditor.audit_log_refuse_change()', v_name || '_no_truncate', v_name);
          RETURN NEXT v_name;
        END LOOP;
      END
      $$`);

    // Every month that holds a row up to the current one, and the next three: then the rows, hashes as they were.
    const [span] = (await q.query(`
      SELECT first AT TIME ZONE 'UTC' AS first,
             ((extract(year FROM last) - extract(year FROM first)) * 12 + extract(month FROM last) - extract(month FROM first))::int AS months
        FROM (SELECT coalesce(min(recorded_at), now()) AT TIME ZONE 'UTC' AS first, greatest(max(recorded_at), now()) AT TIME ZONE 'UTC' AS last
                FROM auditor.audit_log_unpartitioned) s`)) as { first: Date; months: number }[];
    await q.query(`SELECT auditor.audit_ensure_partitions($1, $2)`, [span.first, span.months + 3]);
    await q.query(`INSERT INTO auditor.audit_log (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM auditor.audit_log_unpartitioned ORDER BY tenant_id, seq`);
    await q.query(`DROP TABLE auditor.audit_log_unpartitioned`);

    await q.query(`
      CREATE TABLE auditor.audit_archives (
        partition_name  text        NOT NULL,
        tenant_id       text        NOT NULL,
        from_seq        bigint      NOT NULL CHECK (from_seq >= 1),
        to_seq          bigint      NOT NULL CHECK (to_seq >= from_seq),
        location        text        NOT NULL,
        manifest_sha256 text        NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
        archived_at     timestamptz NOT NULL,
        verified_at     timestamptz,
        retain_until    timestamptz NOT NULL,
        retain_days     integer     NOT NULL CHECK (retain_days >= 1),
        online_days     integer     NOT NULL CHECK (online_days >= 0),
        PRIMARY KEY (partition_name, tenant_id)
      )`);
    await q.query(`
      CREATE TABLE auditor.audit_tombstones (
        tenant_id       text        NOT NULL,
        from_seq        bigint      NOT NULL CHECK (from_seq >= 1),
        to_seq          bigint      NOT NULL CHECK (to_seq >= from_seq),
        hash_before     text        NOT NULL CHECK (hash_before ~ '^[0-9a-f]{64}$'),
        hash_after      text        NOT NULL CHECK (hash_after ~ '^[0-9a-f]{64}$'),
        manifest_sha256 text        NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
        partition_name  text        NOT NULL,
        signed_at       timestamptz NOT NULL,
        key_id          text        NOT NULL,
        signature       text        NOT NULL,
        PRIMARY KEY (tenant_id, from_seq),
        UNIQUE (tenant_id, to_seq)
      )`);
    await q.query(`CREATE TRIGGER audit_tombstones_no_update_delete BEFORE UPDATE OR DELETE ON auditor.audit_tombstones FOR EACH ROW EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
    await q.query(`CREATE TRIGGER audit_tombstones_no_truncate BEFORE TRUNCATE ON auditor.audit_tombstones FOR EACH STATEMENT EXECUTE FUNCTION auditor.audit_log_refuse_change()`);

    await q.query(appendFunction(true));

    await q.query(`
      CREATE FUNCTION auditor.audit_drop_partition(p_partition text, p_now timestamptz) RETURNS bigint
      LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        v_rows bigint;
        v_missing text;
      BEGIN
        IF NOT EXISTS (
          SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE i.inhparent = 'auditor.audit_log'::regclass AND n.nspname = 'auditor' AND c.relname = p_partition AND p_partition <> 'audit_log_default'
        ) THEN
          RAISE EXCEPTION '% is not a monthly partition of auditor.audit_log', p_partition USING ERRCODE = 'invalid_parameter_value';
        END IF;
        EXECUTE format('LOCK TABLE auditor.%I IN ACCESS EXCLUSIVE MODE', p_partition);
        EXECUTE format($q$
          SELECT string_agg(r.tenant_id || ' (' || CASE
                   WHEN a.tenant_id IS NULL THEN 'no archive'
                   WHEN a.verified_at IS NULL THEN 'archive not verified'
                   WHEN a.retain_until > %2$L THEN 'retained until ' || a.retain_until
                   WHEN a.from_seq <> r.from_seq OR a.to_seq <> r.to_seq THEN 'archive holds other rows'
                   ELSE 'no tombstone' END || ')', ', ')
            FROM (SELECT tenant_id, min(seq) AS from_seq, max(seq) AS to_seq FROM auditor.%1$I GROUP BY tenant_id) r
            LEFT JOIN auditor.audit_archives a ON a.partition_name = %3$L AND a.tenant_id = r.tenant_id
            LEFT JOIN auditor.audit_tombstones t ON t.tenant_id = r.tenant_id AND t.from_seq = r.from_seq AND t.to_seq = r.to_seq
                                               AND t.manifest_sha256 = a.manifest_sha256
           WHERE a.tenant_id IS NULL OR a.verified_at IS NULL OR a.retain_until > %2$L
              OR a.from_seq <> r.from_seq OR a.to_seq <> r.to_seq OR t.tenant_id IS NULL$q$, p_partition, p_now, p_partition)
          INTO v_missing;
        IF v_missing IS NOT NULL THEN
          RAISE EXCEPTION 'partition % cannot be dropped: %', p_partition, v_missing USING ERRCODE = 'object_in_use';
        END IF;
        EXECUTE format('SELECT count(*) FROM auditor.%I', p_partition) INTO v_rows;
        EXECUTE format('ALTER TABLE auditor.audit_log DETACH PARTITION auditor.%I', p_partition);
        EXECUTE format('DROP TABLE auditor.%I', p_partition);
        RETURN v_rows;
      END
      $$`);

    for (const fn of [ENSURE, DROP]) await q.query(`ALTER FUNCTION ${fn} OWNER TO ${OWNER_ROLE}`);
    await q.query(`REVOKE EXECUTE ON FUNCTION ${ENSURE}, ${DROP} FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION ${ENSURE} TO ${WRITER}`);

    await q.query(`GRANT SELECT ON auditor.audit_log TO ${WRITER}, ${READER}`);
    await q.query(`GRANT SELECT, INSERT ON auditor.audit_log TO ${OWNER_ROLE}`);
    await q.query(`ALTER TABLE auditor.audit_log ENABLE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY audit_log_owner ON auditor.audit_log TO ${OWNER_ROLE} USING (true) WITH CHECK (true)`);
    await q.query(`CREATE POLICY audit_log_tenant_read ON auditor.audit_log FOR SELECT TO ${READER}, ${WRITER} USING (${TENANT_ROW_POLICY})`);

    // The archive records are the retention job's bookkeeping (the drop re-checks the archive itself); tombstones are evidence, append-only.
    await q.query(`GRANT SELECT, INSERT, UPDATE ON auditor.audit_archives TO ${WRITER}`);
    await q.query(`GRANT SELECT, INSERT ON auditor.audit_tombstones TO ${WRITER}`);
    await q.query(`GRANT SELECT ON auditor.audit_tombstones TO ${READER}`);
    await q.query(`ALTER TABLE auditor.audit_tombstones ENABLE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY audit_tombstones_owner ON auditor.audit_tombstones TO ${OWNER_ROLE} USING (true) WITH CHECK (true)`);
    await q.query(`CREATE POLICY audit_tombstones_tenant_read ON auditor.audit_tombstones FOR SELECT TO ${READER}, ${WRITER} USING (${TENANT_ROW_POLICY})`);
    await q.query(`CREATE POLICY audit_tombstones_insert ON auditor.audit_tombstones FOR INSERT TO ${WRITER} WITH CHECK (true)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION ${DROP}`);
    await q.query(appendFunction(false));
    await q.query(`DROP TABLE auditor.audit_tombstones`);
    await q.query(`DROP TABLE auditor.audit_archives`);

    await q.query(`LOCK TABLE auditor.audit_log IN ACCESS EXCLUSIVE MODE`);
    await q.query(`ALTER TABLE auditor.audit_log RENAME TO audit_log_partitioned`);
    for (const index of ['audit_log_pkey', 'audit_log_event_idx', 'audit_log_type_idx', 'audit_log_correlation_idx', 'audit_log_occurred_idx']) {
      await q.query(`ALTER INDEX IF EXISTS auditor.${index} RENAME TO ${index.replace('audit_log_', 'audit_log_partitioned_')}`);
    }
    await q.query(`CREATE TABLE auditor.audit_log (${COLUMNS}, PRIMARY KEY (tenant_id, seq), UNIQUE (event_id))`);
    await q.query(`CREATE INDEX audit_log_type_idx ON auditor.audit_log (tenant_id, event_type, seq)`);
    await q.query(`CREATE INDEX audit_log_correlation_idx ON auditor.audit_log (tenant_id, correlation_id, seq) WHERE correlation_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_log_occurred_idx ON auditor.audit_log (tenant_id, occurred_at)`);
    await q.query(`INSERT INTO auditor.audit_log (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM auditor.audit_log_partitioned ORDER BY tenant_id, seq`);
    // Dropping the partitioned table drops its partitions (DDL: the row triggers do not fire).
    await q.query(`DROP TABLE auditor.audit_log_partitioned`);
    await q.query(`DROP FUNCTION ${ENSURE}`);
    await q.query(`CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON auditor.audit_log FOR EACH ROW EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
    await q.query(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON auditor.audit_log FOR EACH STATEMENT EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
    await q.query(`GRANT SELECT ON auditor.audit_log TO ${WRITER}, ${READER}`);
    await q.query(`GRANT SELECT, INSERT ON auditor.audit_log TO ${OWNER_ROLE}`);
    await q.query(`ALTER TABLE auditor.audit_log ENABLE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY audit_log_owner ON auditor.audit_log TO ${OWNER_ROLE} USING (true) WITH CHECK (true)`);
    await q.query(`CREATE POLICY audit_log_tenant_read ON auditor.audit_log FOR SELECT TO ${READER}, ${WRITER} USING (${TENANT_ROW_POLICY})`);
    await q.query(refuseChangeFunction(false));
  }
}

/**
 * The trigger function refusing changes (1763700000000), naming the table the statement named: a
 * partition's row trigger fires with the partition's name, and the message names its parent.
 */
function refuseChangeFunction(partitioned: boolean): string {
  const table = partitioned
    ? `coalesce((SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhparent
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE i.inhrelid = TG_RELID), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)`
    : `TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME`;
  return `
    CREATE OR REPLACE FUNCTION auditor.audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % is not allowed', ${table}, TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END
    $$`;
}

/**
 * `append_audit_entry` with the same signature and chain rule as 1765000000000. Partitioned
 * (`partitioned`): no ON CONFLICT (event_id has no unique index; the EXISTS check under the tenant
 * lock stands), recorded_at never earlier than the head's, and a chain whose rows were all
 * archived and dropped continues after its last tombstone. Otherwise: the original body.
 */
function appendFunction(partitioned: boolean): string {
  return `
    CREATE OR REPLACE FUNCTION auditor.append_audit_entry(
      p_tenant_id text, p_event_id text, p_event_type text, p_occurred_at timestamptz, p_actor text, p_action text, p_outcome text,
      p_resource jsonb, p_source text, p_correlation_id text, p_causation_id text, p_trace_id text, p_payload jsonb
    ) RETURNS TABLE (appended_seq bigint, appended_hash text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    #variable_conflict error
    DECLARE
      -- Stored as hashed: toISOString() has milliseconds.
      v_occurred_at timestamptz := date_trunc('milliseconds', p_occurred_at);
      v_recorded_at timestamptz := date_trunc('milliseconds', clock_timestamp());
      v_head_seq bigint;
      v_head_hash text;
      v_head_recorded_at timestamptz;
      v_seq bigint;
      v_prev_hash text;
      v_hash text;
    BEGIN
      IF v_occurred_at < '0001-01-01T00:00:00Z' OR v_occurred_at >= '10000-01-01T00:00:00Z' THEN
        RAISE EXCEPTION 'occurred_at % is outside the years 1 to 9999', p_occurred_at USING ERRCODE = 'datetime_field_overflow';
      END IF;
      PERFORM pg_advisory_xact_lock(hashtext('autoheal.audit_log'), hashtext(p_tenant_id));
      IF EXISTS (SELECT 1 FROM auditor.audit_log AS l WHERE l.event_id = p_event_id) THEN
        RETURN;
      END IF;
      SELECT l.seq, l.hash, l.recorded_at INTO v_head_seq, v_head_hash, v_head_recorded_at
        FROM auditor.audit_log AS l WHERE l.tenant_id = p_tenant_id ORDER BY l.seq DESC LIMIT 1;
      ${
        partitioned
          ? `IF v_head_seq IS NULL THEN
        SELECT t.to_seq, t.hash_after INTO v_head_seq, v_head_hash FROM auditor.audit_tombstones AS t WHERE t.tenant_id = p_tenant_id ORDER BY t.to_seq DESC LIMIT 1;
      END IF;
      -- seq and recorded_at grow together within a tenant, so its rows fill partitions in seq order.
      v_recorded_at := greatest(v_recorded_at, v_head_recorded_at);`
          : ''
      }
      v_seq := coalesce(v_head_seq, 0) + 1;
      v_prev_hash := coalesce(v_head_hash, repeat('0', 64));
      v_hash := auditor.audit_row_hash(p_tenant_id, v_seq, v_prev_hash, p_event_id, p_event_type, v_occurred_at, v_recorded_at,
        p_actor, p_action, p_outcome, p_resource, p_source, p_correlation_id, p_causation_id, p_trace_id, p_payload);
      INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
                                     source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
      VALUES (p_tenant_id, v_seq, p_event_id, p_event_type, v_occurred_at, v_recorded_at, p_actor, p_action, p_resource, p_outcome,
              p_source, p_correlation_id, p_causation_id, p_trace_id, p_payload, v_prev_hash, v_hash)${partitioned ? '' : '\n      ON CONFLICT (event_id) DO NOTHING'};
      IF NOT FOUND THEN
        RETURN;
      END IF;
      appended_seq := v_seq;
      appended_hash := v_hash;
      RETURN NEXT;
    END
    $$`;
}
