import type { MigrationInterface, QueryRunner } from 'typeorm';
import { NO_PUBLIC_EXECUTE, OWNER_ROLE, SERVICE_ROLES } from '@autoheal/persistence';

const ROLE = SERVICE_ROLES.auditor;

/** One field of the row hash: a netstring (<utf-8 byte length>:<bytes>,), ~ for null. */
const NETSTRING = `
  CREATE FUNCTION auditor.audit_netstring(f text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN f IS NULL THEN '~' ELSE octet_length(f)::text || ':' || f || ',' END
  $$`;

/**
 * hashRow of hash-chain.ts (as `audit_row_hash` of 1765000000000 computes it), its two JSON
 * fields given already canonical. One expression, no unnest and aggregate: Postgres inlines it,
 * and it costs a tenth of the aggregate form per row.
 */
const ROW_HASH_OF_CANONICAL = `
  CREATE FUNCTION auditor.audit_row_hash_canonical(
    tenant_id text, seq bigint, prev_hash text, event_id text, event_type text, occurred_at timestamptz, recorded_at timestamptz,
    actor text, action text, outcome text, resource_json text, source text, correlation_id text, causation_id text, trace_id text, payload_json text
  ) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
      auditor.audit_netstring('autoheal.audit.v1') || auditor.audit_netstring(tenant_id) || auditor.audit_netstring(seq::text)
      || auditor.audit_netstring(prev_hash) || auditor.audit_netstring(event_id) || auditor.audit_netstring(event_type)
      || auditor.audit_netstring(to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      || auditor.audit_netstring(to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      || auditor.audit_netstring(actor) || auditor.audit_netstring(action) || auditor.audit_netstring(outcome)
      || auditor.audit_netstring(resource_json) || auditor.audit_netstring(source) || auditor.audit_netstring(correlation_id)
      || auditor.audit_netstring(causation_id) || auditor.audit_netstring(trace_id) || auditor.audit_netstring(payload_json),
      'UTF8')), 'hex')
  $$`;

/**
 * canonicalJson of hash-chain.ts, as `audit_canonical_json` of 1765000000000 computes it, with the
 * same output for every value and less work per value (the hash of every row runs it over the
 * whole event): a string, boolean or null member, and an integer that a double holds exactly
 * (at most 15 digits: written as it is, without `audit_js_number`), is written in place instead
 * of by a recursive call; an object's members are read once, in byte order, and again in UTF-16
 * order only when a key has a character from U+E000 up (which a key of ASCII only cannot have:
 * checked without a regex first).
 */
const CANONICAL_JSON_AFTER = `
  CREATE OR REPLACE FUNCTION auditor.audit_canonical_json(v jsonb) RETURNS text
  LANGUAGE plpgsql IMMUTABLE STRICT SET extra_float_digits = 1 AS $$
  DECLARE
    out text;
    utf16_order boolean;
    n numeric;
  BEGIN
    CASE jsonb_typeof(v)
      WHEN 'object' THEN
        SELECT string_agg(to_json(key)::text || ':' || CASE jsonb_typeof(value)
                 WHEN 'string' THEN to_json(value #>> '{}')::text WHEN 'boolean' THEN value::text WHEN 'null' THEN 'null'
                 WHEN 'number' THEN CASE WHEN scale((value #>> '{}')::numeric) = 0 AND abs((value #>> '{}')::numeric) < 1000000000000000
                                         THEN (value #>> '{}')::numeric::text ELSE auditor.audit_canonical_json(value) END
                 ELSE auditor.audit_canonical_json(value) END, ',' ORDER BY key COLLATE "C"),
               bool_or(CASE WHEN octet_length(key) = length(key) THEN false ELSE key ~ '[\\uE000-\\U0010FFFF]' END)
          INTO out, utf16_order FROM jsonb_each(v);
        IF utf16_order THEN
          SELECT string_agg(to_json(key)::text || ':' || auditor.audit_canonical_json(value), ',' ORDER BY auditor.audit_utf16_key(key))
            INTO out FROM jsonb_each(v);
        END IF;
        RETURN '{' || coalesce(out, '') || '}';
      WHEN 'array' THEN
        SELECT string_agg(CASE jsonb_typeof(e)
                 WHEN 'string' THEN to_json(e #>> '{}')::text WHEN 'boolean' THEN e::text WHEN 'null' THEN 'null'
                 WHEN 'number' THEN CASE WHEN scale((e #>> '{}')::numeric) = 0 AND abs((e #>> '{}')::numeric) < 1000000000000000
                                         THEN (e #>> '{}')::numeric::text ELSE auditor.audit_canonical_json(e) END
                 ELSE auditor.audit_canonical_json(e) END, ',' ORDER BY i)
          INTO out FROM jsonb_array_elements(v) WITH ORDINALITY AS a(e, i);
        RETURN '[' || coalesce(out, '') || ']';
      WHEN 'string' THEN
        RETURN to_json(v #>> '{}')::text;
      WHEN 'number' THEN
        n := (v #>> '{}')::numeric;
        IF scale(n) = 0 AND abs(n) < 1000000000000000 THEN
          RETURN n::text;
        END IF;
        RETURN auditor.audit_js_number(n);
      WHEN 'boolean' THEN
        RETURN v::text;
      ELSE
        RETURN 'null';
    END CASE;
  END
  $$`;

/** `audit_canonical_json` as 1765000000000 made it: what `down` puts back. */
const CANONICAL_JSON_BEFORE = `
  CREATE OR REPLACE FUNCTION auditor.audit_canonical_json(v jsonb) RETURNS text
  LANGUAGE plpgsql IMMUTABLE STRICT SET extra_float_digits = 1 AS $$
  DECLARE
    out text;
  BEGIN
    CASE jsonb_typeof(v)
      WHEN 'object' THEN
        IF EXISTS (SELECT 1 FROM jsonb_object_keys(v) AS k WHERE k ~ '[\\uE000-\\U0010FFFF]') THEN
          SELECT string_agg(to_json(key)::text || ':' || auditor.audit_canonical_json(value), ',' ORDER BY auditor.audit_utf16_key(key))
            INTO out FROM jsonb_each(v);
        ELSE
          SELECT string_agg(to_json(key)::text || ':' || auditor.audit_canonical_json(value), ',' ORDER BY key COLLATE "C")
            INTO out FROM jsonb_each(v);
        END IF;
        RETURN '{' || coalesce(out, '') || '}';
      WHEN 'array' THEN
        SELECT string_agg(auditor.audit_canonical_json(e), ',' ORDER BY i) INTO out FROM jsonb_array_elements(v) WITH ORDINALITY AS a(e, i);
        RETURN '[' || coalesce(out, '') || ']';
      WHEN 'string' THEN
        RETURN to_json(v #>> '{}')::text;
      WHEN 'number' THEN
        RETURN auditor.audit_js_number((v #>> '{}')::numeric);
      WHEN 'boolean' THEN
        RETURN v::text;
      ELSE
        RETURN 'null';
    END CASE;
  END
  $$`;

/** `audit_row_hash` as 1765000000000 made it: what `down` puts back. */
const ROW_HASH_BEFORE = `
  CREATE OR REPLACE FUNCTION auditor.audit_row_hash(
    tenant_id text, seq bigint, prev_hash text, event_id text, event_type text, occurred_at timestamptz, recorded_at timestamptz,
    actor text, action text, outcome text, resource jsonb, source text, correlation_id text, causation_id text, trace_id text, payload jsonb
  ) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(string_agg(CASE WHEN f IS NULL THEN '~' ELSE octet_length(f)::text || ':' || f || ',' END, '' ORDER BY i), 'UTF8')), 'hex')
    FROM unnest(ARRAY[
      'autoheal.audit.v1', tenant_id, seq::text, prev_hash, event_id, event_type,
      to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      actor, action, outcome, auditor.audit_canonical_json(resource), source, correlation_id, causation_id, trace_id,
      auditor.audit_canonical_json(payload)
    ]) WITH ORDINALITY AS fields(f, i)
  $$`;

/** The same hash, now through the one encoding above: the two functions cannot drift apart. */
const ROW_HASH_AFTER = `
  CREATE OR REPLACE FUNCTION auditor.audit_row_hash(
    tenant_id text, seq bigint, prev_hash text, event_id text, event_type text, occurred_at timestamptz, recorded_at timestamptz,
    actor text, action text, outcome text, resource jsonb, source text, correlation_id text, causation_id text, trace_id text, payload jsonb
  ) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT auditor.audit_row_hash_canonical(tenant_id, seq, prev_hash, event_id, event_type, occurred_at, recorded_at, actor, action, outcome,
      auditor.audit_canonical_json(resource), source, correlation_id, causation_id, trace_id, auditor.audit_canonical_json(payload))
  $$`;

/** The batch append function of this migration (its jsonb version; 1767400000000 replaces it and puts it back on `down`). */
export const APPEND_ENTRIES_JSONB = `
  CREATE FUNCTION auditor.append_audit_entries(
    p_tenant_ids text[], p_event_ids text[], p_event_types text[], p_occurred_ats timestamptz[], p_actors text[], p_actions text[],
    p_outcomes text[], p_resources jsonb[], p_sources text[], p_correlation_ids text[], p_causation_ids text[], p_trace_ids text[],
    p_payloads jsonb[]
  ) RETURNS TABLE (entry_index int, appended_seq bigint, appended_hash text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  #variable_conflict error
  DECLARE
    n int := coalesce(cardinality(p_tenant_ids), 0);
    v_tenant text;
    v_bad timestamptz;
    v_recorded_before text[];
    v_head_tenants text[];
    v_head_seqs bigint[];
    v_head_hashes text[];
    v_resource_json text[];
    v_payload_json text[];
    v_seen text[] := '{}';
    v_at int;
    v_occurred_at timestamptz;
    v_recorded_at timestamptz;
    v_seq bigint;
    v_hash text;
    o_index int[] := '{}';
    o_seq bigint[] := '{}';
    o_prev text[] := '{}';
    o_hash text[] := '{}';
    o_occurred timestamptz[] := '{}';
    o_recorded timestamptz[] := '{}';
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
    -- Under the locks (each statement sees what committed before it): events recorded before, and each tenant's head.
    SELECT coalesce(array_agg(l.event_id), '{}') INTO v_recorded_before FROM auditor.audit_log AS l WHERE l.event_id = ANY (p_event_ids);
    SELECT array_agg(d.t), array_agg(h.seq), array_agg(h.hash) INTO v_head_tenants, v_head_seqs, v_head_hashes
      FROM (SELECT DISTINCT u.t FROM unnest(p_tenant_ids) AS u(t)) AS d
      LEFT JOIN LATERAL (SELECT l.seq, l.hash FROM auditor.audit_log AS l WHERE l.tenant_id = d.t ORDER BY l.seq DESC LIMIT 1) AS h ON true;
    SELECT array_agg(auditor.audit_canonical_json(x.r) ORDER BY x.i), array_agg(auditor.audit_canonical_json(x.p) ORDER BY x.i)
      INTO v_resource_json, v_payload_json FROM unnest(p_resources, p_payloads) WITH ORDINALITY AS x(r, p, i);
    FOR i IN 1..n LOOP
      CONTINUE WHEN p_event_ids[i] = ANY (v_recorded_before) OR p_event_ids[i] = ANY (v_seen);
      v_seen := v_seen || p_event_ids[i];
      v_at := array_position(v_head_tenants, p_tenant_ids[i]);
      -- Stored as hashed: toISOString() has milliseconds.
      v_occurred_at := date_trunc('milliseconds', p_occurred_ats[i]);
      v_recorded_at := date_trunc('milliseconds', clock_timestamp());
      v_seq := coalesce(v_head_seqs[v_at], 0) + 1;
      v_hash := auditor.audit_row_hash_canonical(p_tenant_ids[i], v_seq, coalesce(v_head_hashes[v_at], repeat('0', 64)), p_event_ids[i], p_event_types[i],
        v_occurred_at, v_recorded_at, p_actors[i], p_actions[i], p_outcomes[i], v_resource_json[i], p_sources[i], p_correlation_ids[i],
        p_causation_ids[i], p_trace_ids[i], v_payload_json[i]);
      o_index := o_index || i;
      o_seq := o_seq || v_seq;
      o_prev := o_prev || coalesce(v_head_hashes[v_at], repeat('0', 64));
      o_hash := o_hash || v_hash;
      o_occurred := o_occurred || v_occurred_at;
      o_recorded := o_recorded || v_recorded_at;
      v_head_seqs[v_at] := v_seq;
      v_head_hashes[v_at] := v_hash;
    END LOOP;
    INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
                                   source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
    SELECT p_tenant_ids[o.k], o.seq, p_event_ids[o.k], p_event_types[o.k], o.occurred, o.recorded, p_actors[o.k], p_actions[o.k], p_resources[o.k],
           p_outcomes[o.k], p_sources[o.k], p_correlation_ids[o.k], p_causation_ids[o.k], p_trace_ids[o.k], p_payloads[o.k], o.prev, o.hash
      FROM unnest(o_index, o_seq, o_prev, o_hash, o_occurred, o_recorded) AS o(k, seq, prev, hash, occurred, recorded)
     ORDER BY o.k;
    RETURN QUERY SELECT o.k, o.seq, o.hash FROM unnest(o_index, o_seq, o_hash) AS o(k, seq, hash) ORDER BY o.k;
  END
  $$`;

/**
 * `auditor.append_audit_entries`: a batch of entries appended in one call, so the auditor can
 * record many consumed events in one transaction. Entries are given as parallel arrays (index i
 * of each array is entry i) and chained in array order: for each tenant, in the order its
 * entries appear.
 *
 * Each row gets what `append_audit_entry` (1765000000000) would give it, appended alone in the
 * same order: the same checks, `seq`, `prev_hash` and `hash` computed here (the same hash, one
 * encoding: `audit_row_hash` now calls `audit_row_hash_canonical` too), an entry whose event
 * already has a row — or appears earlier in the batch — skipped. The work is set-based where
 * the chain allows: every tenant is locked once, up front, in the order of the lock key (two
 * batches naming the same tenants wait for each other instead of deadlocking); then one query
 * finds the events recorded before, one the tenants' heads, one the canonical JSON of every
 * entry; only the hashes are chained one by one; one INSERT writes the rows. A row of the same
 * event inserted meanwhile for another tenant makes the INSERT fail (unique_violation, retried:
 * the retry finds the event recorded). Returns one row per appended entry: its 1-based index,
 * seq and hash. `append_audit_entry` stays for compatibility.
 */
export class AuditorAppendBatch1767200000000 implements MigrationInterface {
  name = 'AuditorAppendBatch1767200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(CANONICAL_JSON_AFTER);
    await q.query(NETSTRING);
    await q.query(ROW_HASH_OF_CANONICAL);
    await q.query(ROW_HASH_AFTER);
    await q.query(APPEND_ENTRIES_JSONB);
    for (const fn of [NETSTRING_FN, ROW_HASH_CANONICAL, APPEND_BATCH]) {
      await q.query(`ALTER FUNCTION ${fn} OWNER TO ${OWNER_ROLE}`);
      await q.query(`REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`);
    }
    for (const sql of NO_PUBLIC_EXECUTE) await q.query(sql);
    await q.query(`GRANT EXECUTE ON FUNCTION ${APPEND_BATCH} TO ${ROLE}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION ${APPEND_BATCH}`);
    await q.query(ROW_HASH_BEFORE);
    await q.query(`DROP FUNCTION ${ROW_HASH_CANONICAL}`);
    await q.query(`DROP FUNCTION ${NETSTRING_FN}`);
    await q.query(CANONICAL_JSON_BEFORE);
  }
}

const NETSTRING_FN = 'auditor.audit_netstring(text)';
const ROW_HASH_CANONICAL =
  'auditor.audit_row_hash_canonical(text, bigint, text, text, text, timestamptz, timestamptz, text, text, text, text, text, text, text, text, text)';
const APPEND_BATCH =
  'auditor.append_audit_entries(text[], text[], text[], timestamptz[], text[], text[], text[], jsonb[], text[], text[], text[], text[], jsonb[])';
