import type { MigrationInterface, QueryRunner } from 'typeorm';
import { NO_PUBLIC_EXECUTE, OWNER_ROLE, SERVICE_ROLES } from '@autoheal/persistence';

const ROLE = SERVICE_ROLES.auditor;
/** The role the first migration granted INSERT on the log and UPDATE on the keys; it loses both. */
const LEGACY_APP_ROLE = 'autoheal_auditor_app';

/**
 * The auditor's runtime role appends only through `auditor.append_audit_entry`, which places the
 * entry at the end of its tenant's chain itself: it takes the tenant's advisory lock, reads the
 * head, and computes `seq`, `prev_hash` and `hash` in SQL (the encoding of `hash-chain.ts`, which
 * `verify` keeps recomputing in TypeScript). The function runs as its owner (SECURITY DEFINER,
 * search_path pinned); the role has no INSERT, UPDATE, DELETE or TRUNCATE on `audit_log`, reads
 * `api_keys` and cannot change them, and claims events in its inbox.
 *
 * Keys from the environment are no longer stored (the service holds them in memory): the rows the
 * service wrote for them are revoked here, and come back from the environment at the next boot.
 */
export class AuditorAppendFunction1765000000000 implements MigrationInterface {
  name = 'AuditorAppendFunction1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF (SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()) <> 'UTF8' THEN
          RAISE EXCEPTION 'the audit hash chain needs a UTF8 database';
        END IF;
      END
      $$`);

    // A JavaScript number as JSON.stringify writes it (ECMA-262 Number::toString), from the
    // double the value reads back as: jsonb keeps numbers as decimals ("1e-7" is stored as
    // 0.0000001), and verify hashes what JSON.parse makes of them. float8's text is the shortest
    // form that reads back as the same double (Postgres 12+, extra_float_digits > 0).
    await q.query(`
      CREATE FUNCTION auditor.audit_js_number(n numeric) RETURNS text
      LANGUAGE plpgsql IMMUTABLE STRICT SET extra_float_digits = 1 AS $$
      DECLARE
        x float8 := n::float8;
        t text := x::text;
        sign text := '';
        e2 int;
        exact numeric;
        total int;
        rounded numeric;
        mantissa text;
        at int;
        exponent int := 0;
        whole text;
        digits text;
        point int;
        k int;
        e int;
      BEGIN
        -- Parsed with string functions: a regular expression with capture groups costs
        -- milliseconds a call in Postgres' regex engine.
        IF t IN ('0', '-0') THEN RETURN '0'; END IF;
        IF left(t, 1) = '-' THEN
          sign := '-';
          t := substr(t, 2);
          x := -x;
        END IF;
        -- From 2^53 up every double is an integer, and the midpoint between two of them can be a
        -- shorter decimal than either: JavaScript writes such a midpoint when it reads back as the
        -- double (18562257172278192 is written 18562257172278190), float8's text never does. So
        -- there, the fewest significant digits that read back as the double, taken from its exact
        -- value m × 2^e2 (m < 2^54 an integer: dividing a double by a power of two is exact).
        IF x >= 9007199254740992 THEN
          e2 := greatest(0, floor(log(2::numeric, x::numeric))::int - 53);
          WHILE x / (2::float8 ^ e2) <> trunc(x / (2::float8 ^ e2)) LOOP
            e2 := e2 - 1;
          END LOOP;
          exact := (x / (2::float8 ^ e2))::bigint::numeric * (2::numeric ^ e2);
          total := length(trunc(exact)::text);
          FOR significant IN 1..17 LOOP
            rounded := round(exact, significant - total);
            -- Rounding up can pass the largest double (1.8e308 → 2e308): from max + half an ulp on, not a candidate.
            IF rounded < 2::numeric ^ 1024 - 2::numeric ^ 970 THEN
              EXIT WHEN rounded::float8 = x;
            END IF;
          END LOOP;
          t := trunc(rounded)::text;
        END IF;
        at := strpos(t, 'e');
        mantissa := CASE WHEN at > 0 THEN left(t, at - 1) ELSE t END;
        IF at > 0 THEN exponent := substr(t, at + 1)::int; END IF;
        at := strpos(mantissa, '.');
        whole := CASE WHEN at > 0 THEN left(mantissa, at - 1) ELSE mantissa END;
        digits := whole || CASE WHEN at > 0 THEN substr(mantissa, at + 1) ELSE '' END;
        IF digits = '' OR translate(digits, '0123456789', '') <> '' THEN
          RAISE EXCEPTION 'cannot hash the number %', t USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- digits × 10^(point − length(digits)) is the value; JavaScript's n is point.
        point := length(whole) + exponent - (length(digits) - length(ltrim(digits, '0')));
        digits := rtrim(ltrim(digits, '0'), '0');
        k := length(digits);
        IF k <= point AND point <= 21 THEN
          RETURN sign || digits || repeat('0', point - k);
        ELSIF 0 < point AND point <= 21 THEN
          RETURN sign || left(digits, point) || '.' || substr(digits, point + 1);
        ELSIF -6 < point AND point <= 0 THEN
          RETURN sign || '0.' || repeat('0', -point) || digits;
        END IF;
        e := point - 1;
        RETURN sign || left(digits, 1) || CASE WHEN k > 1 THEN '.' || substr(digits, 2) ELSE '' END
          || 'e' || CASE WHEN e < 0 THEN '-' ELSE '+' END || abs(e)::text;
      END
      $$`);

    // JavaScript sorts object keys by UTF-16 code unit; byte order of UTF-8 (COLLATE "C") is the
    // same except for characters from U+E000 up, where this key is needed.
    await q.query(`
      CREATE FUNCTION auditor.audit_utf16_key(s text) RETURNS bytea
      LANGUAGE sql IMMUTABLE STRICT AS $$
        SELECT decode(coalesce(string_agg(
          CASE WHEN cp < 65536 THEN lpad(to_hex(cp), 4, '0')
               ELSE to_hex(55296 + ((cp - 65536) >> 10)) || to_hex(56320 + ((cp - 65536) & 1023)) END,
          '' ORDER BY i), ''), 'hex')
        FROM (SELECT ascii(c) AS cp, i FROM regexp_split_to_table(s, '') WITH ORDINALITY AS chars(c, i)) AS units
      $$`);

    // canonicalJson of hash-chain.ts: keys sorted, no whitespace, strings and numbers as
    // JSON.stringify writes them (Postgres escapes strings the same way).
    await q.query(`
      CREATE FUNCTION auditor.audit_canonical_json(v jsonb) RETURNS text
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
      $$`);

    // hashRow of hash-chain.ts: sha256 over each field as a netstring (<utf-8 byte length>:<bytes>,),
    // ~ for null; timestamps as toISOString() writes them.
    await q.query(`
      CREATE FUNCTION auditor.audit_row_hash(
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
      $$`);

    await q.query(`
      CREATE FUNCTION auditor.append_audit_entry(
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
        SELECT l.seq, l.hash INTO v_head_seq, v_head_hash FROM auditor.audit_log AS l WHERE l.tenant_id = p_tenant_id ORDER BY l.seq DESC LIMIT 1;
        v_seq := coalesce(v_head_seq, 0) + 1;
        v_prev_hash := coalesce(v_head_hash, repeat('0', 64));
        v_hash := auditor.audit_row_hash(p_tenant_id, v_seq, v_prev_hash, p_event_id, p_event_type, v_occurred_at, v_recorded_at,
          p_actor, p_action, p_outcome, p_resource, p_source, p_correlation_id, p_causation_id, p_trace_id, p_payload);
        INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
                                       source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
        VALUES (p_tenant_id, v_seq, p_event_id, p_event_type, v_occurred_at, v_recorded_at, p_actor, p_action, p_resource, p_outcome,
                p_source, p_correlation_id, p_causation_id, p_trace_id, p_payload, v_prev_hash, v_hash)
        ON CONFLICT (event_id) DO NOTHING;
        IF NOT FOUND THEN
          RETURN;
        END IF;
        appended_seq := v_seq;
        appended_hash := v_hash;
        RETURN NEXT;
      END
      $$`);

    // Whoever ran this, the function runs as the owner, which must be able to write the log.
    for (const fn of FUNCTIONS) await q.query(`ALTER FUNCTION ${fn} OWNER TO ${OWNER_ROLE}`);
    await q.query(`GRANT SELECT, INSERT ON auditor.audit_log TO ${OWNER_ROLE}`);

    await q.query(`REVOKE ALL ON SCHEMA auditor FROM PUBLIC`);
    await q.query(`REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA auditor FROM PUBLIC`);
    for (const sql of NO_PUBLIC_EXECUTE) await q.query(sql);
    await q.query(`GRANT USAGE ON SCHEMA auditor TO ${ROLE}`);
    await q.query(`GRANT SELECT ON auditor.audit_log, auditor.api_keys TO ${ROLE}`);
    await q.query(`GRANT SELECT, INSERT ON auditor.inbox TO ${ROLE}`);
    await q.query(`GRANT EXECUTE ON FUNCTION ${APPEND} TO ${ROLE}`);

    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${LEGACY_APP_ROLE}') THEN
          REVOKE ALL ON ALL TABLES IN SCHEMA auditor FROM ${LEGACY_APP_ROLE};
          REVOKE ALL ON SCHEMA auditor FROM ${LEGACY_APP_ROLE};
        END IF;
      END
      $$`);
    await q.query(`UPDATE auditor.api_keys SET revoked_at = now() WHERE origin = 'env' AND revoked_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`REVOKE ALL ON auditor.audit_log, auditor.api_keys, auditor.inbox FROM ${ROLE}`);
    await q.query(`REVOKE USAGE ON SCHEMA auditor FROM ${ROLE}`);
    for (const fn of [...FUNCTIONS].reverse()) await q.query(`DROP FUNCTION ${fn}`);
  }
}

const APPEND =
  'auditor.append_audit_entry(text, text, text, timestamptz, text, text, text, jsonb, text, text, text, text, jsonb)';
const FUNCTIONS = [
  'auditor.audit_js_number(numeric)',
  'auditor.audit_utf16_key(text)',
  'auditor.audit_canonical_json(jsonb)',
  'auditor.audit_row_hash(text, bigint, text, text, text, timestamptz, timestamptz, text, text, text, jsonb, text, text, text, text, jsonb)',
  APPEND,
];
