import { Inject, Injectable } from '@nestjs/common';
import { signReport, type ReportRendering, type ReportSignature } from '@autoheal/evidence';
import { AuditLogError, AuditLogErrorCode } from '../audit-log/audit-log.errors.js';
import { AuditReadService, type ApiCaller } from '../audit-log/audit-read.service.js';
import { CLOCK, type Clock } from '../clock.js';
import { ROW_SEALER, type RowSealer } from '../evidence/row-sealer.js';
import type { ComplianceReport } from './compliance-report.js';
import { assembleReport } from './report-figures.js';
import { renderReport, REPORT_CONTENT_TYPES } from './report-render.js';
import { reportsRepository as repo } from './reports.repository.js';

export interface ReportQuery {
  from: string;
  to: string;
  format: ReportRendering;
}

export interface RenderedReport {
  report: ComplianceReport;
  body: string;
  contentType: string;
  signature: ReportSignature;
}

/**
 * Compliance reports: gathered in one read transaction on the audit read path (the caller's
 * budget, row-level security, counted in its `audit.read` row like any read of the trail), turned
 * into figures by plain functions, rendered, and signed with the key that seals rows and signs
 * checkpoints.
 */
@Injectable()
export class ReportsService {
  constructor(
    private readonly audit: AuditReadService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
  ) {}

  async compliance(tenantId: string, q: ReportQuery, caller: ApiCaller): Promise<RenderedReport> {
    const from = new Date(q.from);
    const to = new Date(q.to);
    if (from >= to) throw new AuditLogError(AuditLogErrorCode.InvalidTimeRange, 'from must be before to', 'from');
    const generatedAt = this.clock.now();
    const report = await this.audit.readView(tenantId, caller, 'report', q, async (m) => {
      const throughSeq = await repo.head(m, tenantId);
      const period = { tenantId, throughSeq, from, to };
      const facts = { tenantId, from, to, throughSeq, generatedAt, thresholds: await repo.thresholds(m, period), ...(await repo.facts(m, period)) };
      const result = assembleReport(facts);
      return { result, returnedItems: result.figures.length };
    });
    const body = renderReport(report, q.format);
    return { report, body, contentType: REPORT_CONTENT_TYPES[q.format], signature: signReport(this.sealer.key, q.format, tenantId, body) };
  }
}
