import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { mayAccessTenant, type TenantScope } from '@autoheal/access';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { appendToOutbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { AdminReads } from '../admin/admin-reads.js';
import { CLOCK, type Clock } from '../clock.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { BOOT_TENANT_DOCUMENTS } from '../decision.tokens.js';
import { diffDocuments, documentVersion, effectiveProfile, validateTenantDocuments, type ProfileThresholds, type TenantDocument } from '../planning/policy-port.js';
import { TenantsError, TenantsErrorCode } from './tenants.errors.js';
import { tenantsRepository, type StoredTenant, type TenantVersion } from './tenants.repository.js';

const log = createLogger('decision');
export const DECISION_PRODUCER = 'decision';
/** Who applied a version that came from the boot documents. */
export const BOOT_APPLIER = 'boot';

export interface ApplyResult {
  tenantId: string;
  version: string;
  previousVersion: string | null;
  outcome: 'created' | 'updated' | 'unchanged';
  changes: { path: string; from?: unknown; to?: unknown }[];
}

/** The thresholds a document yields once its frameworks' presets and overrides are combined. */
export function profileOf(document: TenantDocument): ProfileThresholds {
  return effectiveProfile(document.frameworks, document.overrides);
}

/**
 * Tenants as code: validates, versions (content hash) and stores tenant documents, and
 * announces every change as `compliance.<tenant>.policy_changed` in the same transaction.
 */
@Injectable()
export class TenantsService implements OnModuleInit {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(BOOT_TENANT_DOCUMENTS) private readonly bootDocuments: unknown[],
    private readonly reads: AdminReads,
  ) {}

  /**
   * Applies the boot documents (the tenants as code the service is deployed with): a tenant
   * without a document gets one, a tenant whose current version came from an earlier boot gets
   * the new one, and a version an operator applied through the API is kept — it must survive a
   * restart until the operator changes it again.
   */
  async onModuleInit(): Promise<void> {
    const results = await this.apply(this.bootDocuments, BOOT_APPLIER, { keepOperatorVersions: true });
    log.info({ tenants: results.map((r) => `${r.tenantId}@${r.version} (${r.outcome})`) }, 'tenant documents loaded');
  }

  /**
   * Applies a batch all-or-nothing: every document is validated first (the error lists every
   * problem), then all changes commit in one transaction. Unchanged documents are no-ops.
   */
  async apply(docs: unknown[], appliedBy: string, options: { keepOperatorVersions?: boolean } = {}): Promise<ApplyResult[]> {
    const validated = validateTenantDocuments(docs);
    if (!validated.ok) {
      throw new TenantsError(
        TenantsErrorCode.InvalidDocuments,
        'tenant documents are invalid; nothing was applied',
        validated.errors.map((e) => `documents[${e.document}].${e.path}: ${e.message}`),
        validated.errors,
      );
    }
    // Locks in a fixed order, so two batches touching the same tenants cannot deadlock.
    const ordered = [...validated.documents].sort((a, b) => (a.tenantId < b.tenantId ? -1 : 1));
    const results = await this.db.transaction(async (m) => {
      const out: ApplyResult[] = [];
      const events: Envelope[] = [];
      const now = this.clock.now();
      for (const document of ordered) {
        await tenantsRepository.lockDocument(m, document.tenantId);
        const current = await tenantsRepository.find(m, document.tenantId);
        const version = documentVersion(document);
        const operatorVersion = current !== null && current.appliedBy !== BOOT_APPLIER;
        if (current && (current.policyVersion === version || (options.keepOperatorVersions && operatorVersion))) {
          out.push({ tenantId: document.tenantId, version: current.policyVersion, previousVersion: current.policyVersion, outcome: 'unchanged', changes: [] });
          continue;
        }
        const changes = diffDocuments(current?.document ?? null, document);
        const previousVersion = current?.policyVersion ?? null;
        const profile = profileOf(document);
        await tenantsRepository.apply(m, { tenantId: document.tenantId, version, previousVersion, document, changes, appliedAt: now, appliedBy }, profile);
        events.push(
          newEvent('compliance.policy_changed', {
            tenantId: document.tenantId,
            producer: DECISION_PRODUCER,
            occurredAt: now,
            data: {
              policyVersion: version,
              previousVersion,
              changedBy: appliedBy,
              changes,
              thresholds: { availabilityTarget: profile.availabilityTarget, maxTimeToRemediateMs: profile.maxTimeToRemediateMs },
            },
          }),
        );
        out.push({ tenantId: document.tenantId, version, previousVersion, outcome: current ? 'updated' : 'created', changes });
      }
      await appendToOutbox(m, DECISION_SCHEMA, events);
      return out;
    });
    return results;
  }

  // Reads run on the admin API's read pool, scoped (row-level security) to the credential's tenants.

  /** The tenants of `scope` that have a document. */
  async list(scope: TenantScope): Promise<StoredTenant[]> {
    const tenants = await this.reads.read(scope, null, (m) => tenantsRepository.list(m));
    // Row-level security has kept the others out already; this holds when the pool falls back to the service's role.
    return tenants.filter((t) => mayAccessTenant({ tenantScope: scope }, t.tenantId));
  }

  async get(scope: TenantScope, tenantId: string): Promise<StoredTenant> {
    return this.reads.read(scope, tenantId, (m) => this.current(m, tenantId));
  }

  async versions(scope: TenantScope, tenantId: string, page: { limit: number; before?: number }): Promise<TenantVersion[]> {
    return this.reads.read(scope, tenantId, async (m) => {
      await this.current(m, tenantId);
      return tenantsRepository.versions(m, tenantId, page);
    });
  }

  /** What changed between two versions; `to` defaults to the current one. */
  async diff(scope: TenantScope, tenantId: string, from: string, to?: string): Promise<{ from: string; to: string; changes: ReturnType<typeof diffDocuments> }> {
    return this.reads.read(scope, tenantId, async (m) => {
      const current = await this.current(m, tenantId);
      const target = to ?? current.policyVersion;
      const a = await tenantsRepository.findVersion(m, tenantId, from);
      const b = await tenantsRepository.findVersion(m, tenantId, target);
      if (!a) throw new TenantsError(TenantsErrorCode.VersionNotFound, `tenant ${tenantId} has no version ${from}`);
      if (!b) throw new TenantsError(TenantsErrorCode.VersionNotFound, `tenant ${tenantId} has no version ${target}`);
      return { from, to: target, changes: diffDocuments(a.document, b.document) };
    });
  }

  private async current(m: EntityManager, tenantId: string): Promise<StoredTenant> {
    const tenant = await tenantsRepository.find(m, tenantId);
    if (!tenant) throw new TenantsError(TenantsErrorCode.TenantNotFound, `tenant ${tenantId} has no document`);
    return tenant;
  }
}
