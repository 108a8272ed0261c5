import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module.js';
import { AuditLogModule } from '../audit-log/audit-log.module.js';
import { ReportsController } from './reports.controller.js';
import { ReportsService } from './reports.service.js';

/** Compliance reports, computed from the audit trail and signed. */
@Module({
  imports: [ApiKeysModule, AuditLogModule],
  controllers: [ReportsController],
  providers: [ReportsService],
})
export class ReportsModule {}
