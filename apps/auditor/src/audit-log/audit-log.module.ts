import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module.js';
import { EvidenceModule } from '../evidence/evidence.module.js';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { AuditLogController } from './audit-log.controller.js';
import { AuditLogService } from './audit-log.service.js';
import { AuditReadPoolLifecycle, auditReadPoolProvider } from './audit-read-pool.js';
import { AuditReadRecorder } from './audit-read-recorder.js';
import { AuditReadService } from './audit-read.service.js';
import { AuditReadLimiter } from './read-limits.js';

@Module({
  imports: [ApiKeysModule, EvidenceModule],
  controllers: [AuditLogController],
  providers: [
    AuditLogService,
    AuditReadService,
    AuditReadRecorder,
    auditReadPoolProvider,
    AuditReadPoolLifecycle,
    {
      provide: AuditReadLimiter,
      inject: [AUDITOR_CONFIG, CLOCK],
      useFactory: (config: AuditorConfig, clock: Clock) =>
        new AuditReadLimiter(
          {
            readRatePerMinute: config.AUDITOR_READ_RATE_PER_MINUTE,
            readBurst: config.AUDITOR_READ_BURST,
            verifyCost: config.AUDITOR_VERIFY_COST,
            fullVerifyPerHour: config.AUDITOR_FULL_VERIFY_PER_HOUR,
          },
          () => clock.now().getTime(),
        ),
    },
  ],
  exports: [AuditLogService, AuditReadService, AuditReadRecorder],
})
export class AuditLogModule {}
