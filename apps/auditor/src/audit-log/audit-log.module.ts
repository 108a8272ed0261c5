import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module.js';
import { AuditLogController } from './audit-log.controller.js';
import { AuditLogHandler } from './audit-log.handler.js';
import { AuditLogService } from './audit-log.service.js';

@Module({
  imports: [ApiKeysModule],
  controllers: [AuditLogController, AuditLogHandler],
  providers: [AuditLogService],
  exports: [AuditLogService],
})
export class AuditLogModule {}
