import { Module } from '@nestjs/common';
import { EvidenceModule } from '../evidence/evidence.module.js';
import { RetentionService } from './retention.service.js';
import { RetentionTask } from './retention.task.js';

/** Monthly partitions ahead, archives past the online window, drops past retention (README "Retention"). */
@Module({
  imports: [EvidenceModule],
  providers: [RetentionService, RetentionTask],
  exports: [RetentionService],
})
export class RetentionModule {}
