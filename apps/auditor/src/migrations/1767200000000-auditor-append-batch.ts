import type { MigrationInterface, QueryRunner } from 'typeorm';
import { NO_PUBLIC_EXECUTE, OWNER_ROLE, SERVICE_ROLES } from '@autoheal/persistence';

const ROLE = SERVICE_ROLES.auditor;

/**
 * `auditor.append_audit_entries`: a batch of entries appended in one call, so the auditor can
 * record many consumed events in one transaction (one round trip for the appends instead of one
 * per event). Entries are given as parallel arrays (index i of each array is entry i) and are
 * chained in array order: for each tenant, in the order its entries appear.
 *
 * Each row is placed exactly as `append_audit_entry` (1765000000000) places one: same checks,
 * same `seq`, `prev_hash` and `hash` computed in SQL, an entry whose event already has a row
 * skipped. What differs is the locking: every tenant of the batch is locked once, up front, in
 * the order of the lock key, so two batches naming the same tenants (two replicas) wait for each
 * other instead of deadlocking. Returns one row per appended entry: its 1-based index, seq and
 * hash. `append_audit_entry` stays for compatibility (one entry is a batch of one here).
 */
export class AuditorAppendBatch1767200000000 implements MigrationInterface {
  name = 'AuditorAppendBatch1767200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
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
        v_occurred_at timestamptz;
        v_recorded_at timestamptz;
        v_head_seq bigint;
        v_head_hash text;
        v_seq bigint;
        v_prev_hash text;
        v_hash text;
      BEGIN
        IF coalesce(cardinality(p_event_ids), 0) <> n OR coalesce(cardinality(p_event_types), 0) <> n OR coalesce(cardinality(p_occurred_ats), 0) <> n
           OR coalesce(cardinality(p_actors), 0) <> n OR coalesce(cardinality(p_actions), 0) <> n OR coalesce(cardinality(p_outcomes), 0) <> n
           OR coalesce(cardinality(p_resources), 0) <> n OR coalesce(cardinality(p_sources), 0) <> n OR coalesce(cardinality(p_correlation_ids), 0) <> n
           OR coalesce(cardinality(p_causation_ids), 0) <> n OR coalesce(cardinality(p_trace_ids), 0) <> n OR coalesce(cardinality(p_payloads), 0) <> n THEN
          RAISE EXCEPTION 'append_audit_entries: the arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Every tenant once, in one order for every caller: no two batches can wait on each other in a cycle.
        FOR v_tenant IN SELECT d.t FROM (SELECT DISTINCT u.t FROM unnest(p_tenant_ids) AS u(t)) AS d ORDER BY hashtext(d.t), d.t LOOP
          PERFORM pg_advisory_xact_lock(hashtext('autoheal.audit_log'), hashtext(v_tenant));
        END LOOP;
        FOR i IN 1..n LOOP
          -- Stored as hashed: toISOString() has milliseconds.
          v_occurred_at := date_trunc('milliseconds', p_occurred_ats[i]);
          IF v_occurred_at < '0001-01-01T00:00:00Z' OR v_occurred_at >= '10000-01-01T00:00:00Z' THEN
            RAISE EXCEPTION 'occurred_at % is outside the years 1 to 9999', p_occurred_ats[i] USING ERRCODE = 'datetime_field_overflow';
          END IF;
          CONTINUE WHEN EXISTS (SELECT 1 FROM auditor.audit_log AS l WHERE l.event_id = p_event_ids[i]);
          v_recorded_at := date_trunc('milliseconds', clock_timestamp());
          -- The rows this call inserted before are visible here: the head moves along the batch.
          v_head_seq := NULL;
          v_head_hash := NULL;
          SELECT l.seq, l.hash INTO v_head_seq, v_head_hash FROM auditor.audit_log AS l WHERE l.tenant_id = p_tenant_ids[i] ORDER BY l.seq DESC LIMIT 1;
          v_seq := coalesce(v_head_seq, 0) + 1;
          v_prev_hash := coalesce(v_head_hash, repeat('0', 64));
          v_hash := auditor.audit_row_hash(p_tenant_ids[i], v_seq, v_prev_hash, p_event_ids[i], p_event_types[i], v_occurred_at, v_recorded_at,
            p_actors[i], p_actions[i], p_outcomes[i], p_resources[i], p_sources[i], p_correlation_ids[i], p_causation_ids[i], p_trace_ids[i], p_payloads[i]);
          INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
                                         source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
          VALUES (p_tenant_ids[i], v_seq, p_event_ids[i], p_event_types[i], v_occurred_at, v_recorded_at, p_actors[i], p_actions[i], p_resources[i],
                  p_outcomes[i], p_sources[i], p_correlation_ids[i], p_causation_ids[i], p_trace_ids[i], p_payloads[i], v_prev_hash, v_hash)
          ON CONFLICT (event_id) DO NOTHING;
          CONTINUE WHEN NOT FOUND;
          entry_index := i;
          appended_seq := v_seq;
          appended_hash := v_hash;
          RETURN NEXT;
        END LOOP;
      END
      $$`);
    await q.query(`ALTER FUNCTION ${APPEND_BATCH} OWNER TO ${OWNER_ROLE}`);
    await q.query(`REVOKE EXECUTE ON FUNCTION ${APPEND_BATCH} FROM PUBLIC`);
    for (const sql of NO_PUBLIC_EXECUTE) await q.query(sql);
    await q.query(`GRANT EXECUTE ON FUNCTION ${APPEND_BATCH} TO ${ROLE}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION ${APPEND_BATCH}`);
  }
}

const APPEND_BATCH =
  'auditor.append_audit_entries(text[], text[], text[], timestamptz[], text[], text[], text[], jsonb[], text[], text[], text[], text[], jsonb[])';
