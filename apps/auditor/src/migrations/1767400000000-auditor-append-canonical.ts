import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OWNER_ROLE, SERVICE_ROLES } from '@autoheal/persistence';
import { APPEND_ENTRIES_JSONB } from './1767200000000-auditor-append-batch.js';

const ROLE = SERVICE_ROLES.auditor;

const APPEND_BATCH_JSONB =
  'auditor.append_audit_entries(text[], text[], text[], timestamptz[], text[], text[], text[], jsonb[], text[], text[], text[], text[], jsonb[])';
const APPEND_BATCH_CANONICAL =
  'auditor.append_audit_entries(text[], text[], text[], timestamptz[], text[], text[], text[], text[], text[], text[], text[], text[], text[])';

/**
 * `auditor.append_audit_entries` again, three times cheaper per row, with the same rows as result
 * (the same checks, seq, prev_hash and hash; an event recorded before, or earlier in the batch,
 * skipped; each tenant locked once, in lock-key order). Measured per row in the function
 * (`tools/bench/audit.bench.js`), two costs dominated, and both go:
 *
 * - **Canonical JSON in PL/pgSQL** (`audit_canonical_json`, a recursive function call per JSON
 *   value: about 80 µs for an incident event's payload). The caller now gives `resource` and
 *   `payload` as their canonical JSON text (docs/audit-row-hash.md, section 2; the service has
 *   `canonicalJson` of @autoheal/contracts, the one verify recomputes with). The function hashes
 *   that text as given and stores its JSON (`::jsonb`). This gives a caller no say over the
 *   chain: seq, prev_hash and hash are still computed here, from exactly the content stored, and a
 *   text that is not the canonical form of its own JSON yields a row whose hash verify cannot
 *   recompute — a row every verification reports. Content the database refuses (a `\u0000`) is
 *   refused as before (a data exception).
 * - **Subscripting arrays of variable-length elements** (`p_payloads[i]` walks the array from its
 *   start: quadratic in the batch) and growing result arrays with `||` (a copy per row). The
 *   entries are now read once, in order, by one `unnest` into the loop; results go into
 *   preallocated arrays by element assignment (in place); the INSERT reads them back by `unnest`.
 *   `recorded_at` (and its text in the hash) is one value for the call.
 *   Which entries to skip (recorded before, or a repeat in the batch) is one set-based test in
 *   the same query instead of an array search per entry.
 *
 * The jsonb version is dropped: one append function, one way to call it.
 *
 * Two more changes make sealing cost one signature per tenant and transaction instead of one per
 * row (README, "Seals"):
 * - `audit_seals.from_seq`: a seal now covers the range `from_seq`..`seq` of rows one append
 *   transaction wrote for its tenant (stored at its last row; null: a seal of one row, as before).
 * - `recorded_at` is stamped once per call, so the rows of one transaction share it: a range of
 *   recorded_at (an export's time range, a monthly partition) never splits a seal's range.
 */
export class AuditorAppendCanonical1767400000000 implements MigrationInterface {
  name = 'AuditorAppendCanonical1767400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE auditor.audit_seals ADD COLUMN from_seq bigint CHECK (from_seq BETWEEN 1 AND seq)`);
    await q.query(`DROP FUNCTION ${APPEND_BATCH_JSONB}`);
    await q.query(`
      CREATE FUNCTION auditor.append_audit_entries(
        p_tenant_ids text[], p_event_ids text[], p_event_types text[], p_occurred_ats timestamptz[], p_actors text[], p_actions text[],
        p_outcomes text[], p_resources text[], p_sources text[], p_correlation_ids text[], p_causation_ids text[], p_trace_ids text[],
        p_payloads text[]
      ) RETURNS TABLE (entry_index int, appended_seq bigint, appended_hash text)
      LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      #variable_conflict error
      DECLARE
        n int := coalesce(cardinality(p_tenant_ids), 0);
        v_tenant text;
        v_bad timestamptz;
        v_head_tenants text[];
        v_head_seqs bigint[];
        v_head_hashes text[];
        v_at int;
        v_seq bigint;
        v_prev text;
        v_recorded_at timestamptz;
        e record;
        -- Per entry (index = the entry's): its seq, prev_hash, hash; seq stays null for an entry not appended.
        o_seq bigint[];
        o_prev text[];
        o_hash text[];
      BEGIN
        IF coalesce(cardinality(p_event_ids), 0) <> n OR coalesce(cardinality(p_event_types), 0) <> n OR coalesce(cardinality(p_occurred_ats), 0) <> n
           OR coalesce(cardinality(p_actors), 0) <> n OR coalesce(cardinality(p_actions), 0) <> n OR coalesce(cardinality(p_outcomes), 0) <> n
           OR coalesce(cardinality(p_resources), 0) <> n OR coalesce(cardinality(p_sources), 0) <> n OR coalesce(cardinality(p_correlation_ids), 0) <> n
           OR coalesce(cardinality(p_causation_ids), 0) <> n OR coalesce(cardinality(p_trace_ids), 0) <> n OR coalesce(cardinality(p_payloads), 0) <> n THEN
          RAISE EXCEPTION 'append_audit_entries: the arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF n = 0 THEN
          RETURN;
        END IF;
        SELECT o INTO v_bad FROM unnest(p_occurred_ats) AS u(o)
         WHERE date_trunc('milliseconds', o) < '0001-01-01T00:00:00Z' OR date_trunc('milliseconds', o) >= '10000-01-01T00:00:00Z' LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'occurred_at % is outside the years 1 to 9999', v_bad USING ERRCODE = 'datetime_field_overflow';
        END IF;
        -- Every tenant once, in one order for every caller: no two batches wait on each other in a cycle.
        FOR v_tenant IN SELECT d.t FROM (SELECT DISTINCT u.t FROM unnest(p_tenant_ids) AS u(t)) AS d ORDER BY hashtext(d.t), d.t LOOP
          PERFORM pg_advisory_xact_lock(hashtext('autoheal.audit_log'), hashtext(v_tenant));
        END LOOP;
        -- Under the locks (each statement sees what committed before it): each tenant's head.
        SELECT array_agg(d.t), array_agg(h.seq), array_agg(h.hash) INTO v_head_tenants, v_head_seqs, v_head_hashes
          FROM (SELECT DISTINCT u.t FROM unnest(p_tenant_ids) AS u(t)) AS d
          LEFT JOIN LATERAL (SELECT l.seq, l.hash FROM auditor.audit_log AS l WHERE l.tenant_id = d.t ORDER BY l.seq DESC LIMIT 1) AS h ON true;
        -- One time for the call: its rows share it (and so their partition, and any time range that holds one of them).
        v_recorded_at := date_trunc('milliseconds', clock_timestamp());
        o_seq := array_fill(NULL::bigint, ARRAY[n]);
        o_prev := array_fill(NULL::text, ARRAY[n]);
        o_hash := array_fill(NULL::text, ARRAY[n]);
        -- The entries to append, in order: the first of each event id in the batch, and none already recorded.
        FOR e IN
          SELECT u.*
            FROM (SELECT x.*, row_number() OVER (PARTITION BY x.event_id ORDER BY x.k) AS nth
                    FROM unnest(p_tenant_ids, p_event_ids, p_event_types, p_occurred_ats, p_actors, p_actions, p_outcomes, p_resources,
                                p_sources, p_correlation_ids, p_causation_ids, p_trace_ids, p_payloads)
                         WITH ORDINALITY AS x(tenant_id, event_id, event_type, occurred_at, actor, action, outcome, resource,
                                              source, correlation_id, causation_id, trace_id, payload, k)) AS u
           WHERE u.nth = 1 AND NOT EXISTS (SELECT 1 FROM auditor.audit_log AS l WHERE l.event_id = u.event_id)
           ORDER BY u.k
        LOOP
          v_at := array_position(v_head_tenants, e.tenant_id);
          v_seq := coalesce(v_head_seqs[v_at], 0) + 1;
          v_prev := coalesce(v_head_hashes[v_at], repeat('0', 64));
          -- occurred_at is stored as hashed: toISOString() has milliseconds.
          v_head_hashes[v_at] := auditor.audit_row_hash_canonical(e.tenant_id, v_seq, v_prev, e.event_id, e.event_type,
            date_trunc('milliseconds', e.occurred_at), v_recorded_at, e.actor, e.action, e.outcome, e.resource, e.source, e.correlation_id,
            e.causation_id, e.trace_id, e.payload);
          v_head_seqs[v_at] := v_seq;
          o_seq[e.k] := v_seq;
          o_prev[e.k] := v_prev;
          o_hash[e.k] := v_head_hashes[v_at];
        END LOOP;
        INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
                                       source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
        SELECT x.tenant_id, x.seq, x.event_id, x.event_type, date_trunc('milliseconds', x.occurred_at), v_recorded_at, x.actor, x.action,
               x.resource::jsonb, x.outcome, x.source, x.correlation_id, x.causation_id, x.trace_id, x.payload::jsonb, x.prev_hash, x.hash
          FROM unnest(p_tenant_ids, p_event_ids, p_event_types, p_occurred_ats, p_actors, p_actions, p_outcomes, p_resources,
                      p_sources, p_correlation_ids, p_causation_ids, p_trace_ids, p_payloads, o_seq, o_prev, o_hash)
               WITH ORDINALITY AS x(tenant_id, event_id, event_type, occurred_at, actor, action, outcome, resource,
                                    source, correlation_id, causation_id, trace_id, payload, seq, prev_hash, hash, k)
         WHERE x.seq IS NOT NULL
         ORDER BY x.k;
        RETURN QUERY SELECT x.k::int, x.seq, x.hash FROM unnest(o_seq, o_hash) WITH ORDINALITY AS x(seq, hash, k) WHERE x.seq IS NOT NULL ORDER BY x.k;
      END
      $$`);
    await q.query(`ALTER FUNCTION ${APPEND_BATCH_CANONICAL} OWNER TO ${OWNER_ROLE}`);
    await q.query(`REVOKE EXECUTE ON FUNCTION ${APPEND_BATCH_CANONICAL} FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION ${APPEND_BATCH_CANONICAL} TO ${ROLE}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION ${APPEND_BATCH_CANONICAL}`);
    await q.query(APPEND_ENTRIES_JSONB);
    await q.query(`ALTER FUNCTION ${APPEND_BATCH_JSONB} OWNER TO ${OWNER_ROLE}`);
    await q.query(`REVOKE EXECUTE ON FUNCTION ${APPEND_BATCH_JSONB} FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION ${APPEND_BATCH_JSONB} TO ${ROLE}`);
    await q.query(`ALTER TABLE auditor.audit_seals DROP COLUMN from_seq`);
  }
}
