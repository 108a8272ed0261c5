import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SERVICE_ROLES } from '@autoheal/persistence';

const ROLE = SERVICE_ROLES.auditor;

/**
 * API keys become people's keys, created, expired and revoked through the auditor's API (no
 * longer written into the table by a script run as the owner):
 * - each key names its person (`subject`), its roles, its tenant scope (NULL: every tenant),
 *   when it expires and who created it;
 * - the old ops/tenant scope maps to the viewer role over every tenant or over its tenant (what
 *   those keys could do: read audit trails);
 * - the service's role may add keys and set `revoked_at` / `expires_at`, nothing else: it
 *   cannot rewrite a key's roles, scope or hash, and cannot delete a key (its history stays);
 * - whatever the role, a revoked key stays revoked and an expiry only moves earlier (trigger).
 */
export class AuditorPeopleApiKeys1766100000000 implements MigrationInterface {
  name = 'AuditorPeopleApiKeys1766100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE auditor.api_keys
        ADD COLUMN subject      text,
        ADD COLUMN roles        text[],
        ADD COLUMN tenant_scope text[],
        ADD COLUMN expires_at   timestamptz,
        ADD COLUMN created_by   text`);
    await q.query(`
      UPDATE auditor.api_keys
         SET subject = label,
             roles = ARRAY['viewer'],
             tenant_scope = CASE WHEN scope = 'tenant' THEN ARRAY[tenant_id] END,
             created_by = 'api-keys CLI'`);
    await q.query(`
      ALTER TABLE auditor.api_keys
        ALTER COLUMN subject SET NOT NULL,
        ALTER COLUMN roles SET NOT NULL,
        ALTER COLUMN created_by SET NOT NULL,
        DROP COLUMN scope,
        DROP COLUMN tenant_id,
        DROP CONSTRAINT api_keys_origin_check,
        ADD CONSTRAINT api_keys_origin_check CHECK (origin IN ('env', 'cli', 'api')),
        ADD CONSTRAINT api_keys_subject_check CHECK (length(subject) BETWEEN 1 AND 200),
        ADD CONSTRAINT api_keys_roles_check CHECK (cardinality(roles) >= 1 AND roles <@ ARRAY['viewer', 'operator', 'approver', 'admin']),
        ADD CONSTRAINT api_keys_tenant_scope_check CHECK (tenant_scope IS NULL OR cardinality(tenant_scope) >= 1)`);
    // Whatever the role: a revoked key stays revoked, and an expiry only moves earlier.
    await q.query(`
      CREATE FUNCTION auditor.api_keys_refuse_revival() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
          RAISE EXCEPTION 'API key % is revoked: its revocation cannot be changed', OLD.id USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF OLD.expires_at IS NOT NULL AND (NEW.expires_at IS NULL OR NEW.expires_at > OLD.expires_at) THEN
          RAISE EXCEPTION 'API key % expires at %: its expiry cannot move later', OLD.id, OLD.expires_at USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END
      $$`);
    await q.query(`
      CREATE TRIGGER api_keys_no_revival BEFORE UPDATE ON auditor.api_keys
      FOR EACH ROW EXECUTE FUNCTION auditor.api_keys_refuse_revival()`);
    await q.query(`CREATE INDEX api_keys_active_idx ON auditor.api_keys (id) WHERE revoked_at IS NULL`);
    await q.query(`GRANT INSERT ON auditor.api_keys TO ${ROLE}`);
    await q.query(`GRANT UPDATE (revoked_at, expires_at) ON auditor.api_keys TO ${ROLE}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`REVOKE INSERT, UPDATE ON auditor.api_keys FROM ${ROLE}`);
    await q.query(`DROP INDEX auditor.api_keys_active_idx`);
    await q.query(`DROP TRIGGER api_keys_no_revival ON auditor.api_keys`);
    await q.query(`DROP FUNCTION auditor.api_keys_refuse_revival()`);
    // Keys created through the API have no place in the old model: they are revoked, not dropped.
    await q.query(`
      ALTER TABLE auditor.api_keys
        ADD COLUMN scope text,
        ADD COLUMN tenant_id text,
        DROP CONSTRAINT api_keys_origin_check,
        DROP CONSTRAINT api_keys_subject_check,
        DROP CONSTRAINT api_keys_roles_check,
        DROP CONSTRAINT api_keys_tenant_scope_check`);
    await q.query(`
      UPDATE auditor.api_keys
         SET scope = CASE WHEN tenant_scope IS NULL THEN 'ops' ELSE 'tenant' END,
             tenant_id = tenant_scope[1],
             revoked_at = CASE WHEN origin = 'api' THEN coalesce(revoked_at, now()) ELSE revoked_at END,
             origin = CASE WHEN origin = 'api' THEN 'cli' ELSE origin END`);
    await q.query(`
      ALTER TABLE auditor.api_keys
        ALTER COLUMN scope SET NOT NULL,
        ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('ops', 'tenant')),
        ADD CONSTRAINT api_keys_origin_check CHECK (origin IN ('env', 'cli')),
        ADD CONSTRAINT api_keys_check CHECK ((scope = 'ops' AND tenant_id IS NULL) OR (scope = 'tenant' AND tenant_id IS NOT NULL)),
        DROP COLUMN subject,
        DROP COLUMN roles,
        DROP COLUMN tenant_scope,
        DROP COLUMN expires_at,
        DROP COLUMN created_by`);
  }
}
