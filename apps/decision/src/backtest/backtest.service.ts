import { Injectable } from '@nestjs/common';
import type { TenantScope } from '@autoheal/access';
import { AdminReads } from '../admin/admin-reads.js';
import { remediationsRepository } from '../planning/remediations.repository.js';
import { documentVersion, validateTenantDocuments } from '../planning/policy-port.js';
import { TenantsError, TenantsErrorCode } from '../tenants/tenants.errors.js';
import { replayDecision, type BacktestLine } from './replay.js';

export interface BacktestReport {
  tenantId: string;
  candidateVersion: string;
  replayed: number;
  changed: number;
  /** Decisions that could not be replayed (taken before incident facts were stored). */
  skipped: number;
  lines: BacktestLine[];
}

/** Replays a tenant's past incidents against a candidate document; changes nothing. */
@Injectable()
export class BacktestService {
  constructor(private readonly reads: AdminReads) {}

  /** Reads on the admin API's read pool, scoped (row-level security) to the credential's tenants. */
  async run(scope: TenantScope, tenantId: string, document: unknown, since: Date, limit: number): Promise<BacktestReport> {
    const validated = validateTenantDocuments([document]);
    if (!validated.ok) {
      throw new TenantsError(TenantsErrorCode.InvalidDocuments, 'the candidate document is invalid', validated.errors.map((e) => `${e.path}: ${e.message}`), validated.errors);
    }
    const candidate = validated.documents[0];
    if (candidate.tenantId !== tenantId) {
      const error = { document: 0, path: 'tenantId', message: `the candidate is for ${candidate.tenantId}, not ${tenantId}` };
      throw new TenantsError(TenantsErrorCode.InvalidDocuments, 'the candidate document is for another tenant', [error.message], [error]);
    }
    const rows = await this.reads.read(scope, tenantId, (m) => remediationsRepository.listForTenant(m, tenantId, since, limit));
    const lines: BacktestLine[] = [];
    let skipped = 0;
    for (const row of rows) {
      const line = replayDecision(row, candidate);
      if (line) lines.push(line);
      else skipped++;
    }
    return { tenantId, candidateVersion: documentVersion(candidate), replayed: lines.length, changed: lines.filter((l) => l.changed).length, skipped, lines };
  }
}
