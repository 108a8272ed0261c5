import type { Client } from 'pg';
import { documentVersion, tenantDocumentSchema, type TenantDocument } from '../planning/policy-port.js';
import { startDecisionTestEnv, type DecisionTestEnv } from '../test-support/decision-test-app.js';
import { TenantsService } from './tenants.service.js';

function doc(maxAutoActionsPerHour: number): TenantDocument {
  return tenantDocumentSchema.parse({
    apiVersion: 'autoheal/v1',
    tenantId: 'acme',
    frameworks: ['SOC2'],
    overrides: { maxAutoActionsPerHour },
    inventory: { services: [{ service: 'api', instances: [{ instance: 'api-1', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }] }] },
  });
}

describe('tenant documents at boot (real Postgres)', () => {
  let env: DecisionTestEnv;
  let pg: Client;

  beforeAll(async () => {
    env = await startDecisionTestEnv({ prefix: 'boot-docs-' });
    ({ pg } = env);
  });

  afterAll(async () => {
    await env?.stop();
  });

  /** Boots the service with `document` as its only boot document, runs `then`, stops it. */
  async function boot(document: TenantDocument, then: (tenants: TenantsService) => Promise<void> = async () => undefined): Promise<void> {
    const { app, close } = await env.boot({ documents: [document] });
    try {
      await then(app.get(TenantsService));
    } finally {
      await close();
    }
  }

  const current = async () => (await pg.query<{ policy_version: string; applied_by: string }>(`SELECT policy_version, applied_by FROM decision.tenants WHERE tenant_id = 'acme'`)).rows;

  it('replaces a version an earlier boot applied, and keeps one an operator applied', async () => {
    await boot(doc(8));
    expect(await current()).toEqual([{ policy_version: documentVersion(doc(8)), applied_by: 'boot' }]);

    // A new deployment with a changed document: it takes over.
    await boot(doc(6), async (tenants) => {
      // An operator then applies their own version through the API…
      await tenants.apply([doc(4)], 'alice@example.com');
    });
    expect(await current()).toEqual([{ policy_version: documentVersion(doc(4)), applied_by: 'alice@example.com' }]);

    // …which the next boot keeps, whatever its documents say.
    await boot(doc(6));
    expect(await current()).toEqual([{ policy_version: documentVersion(doc(4)), applied_by: 'alice@example.com' }]);
    const versions = await pg.query<{ version: string; applied_by: string }>(`SELECT version, applied_by FROM decision.tenant_versions WHERE tenant_id = 'acme' ORDER BY seq`);
    expect(versions.rows.map((r) => [r.version, r.applied_by])).toEqual([
      [documentVersion(doc(8)), 'boot'],
      [documentVersion(doc(6)), 'boot'],
      [documentVersion(doc(4)), 'alice@example.com'],
    ]);
  });
});
