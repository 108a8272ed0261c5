import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module.js';
import { AuditorKeys } from './auditor-keys.js';
import { CheckpointFileSink } from './checkpoint-file-sink.js';
import { CheckpointStream } from './checkpoint-stream.js';
import { CheckpointService } from './checkpoint.service.js';
import { EvidenceController } from './evidence.controller.js';
import { EvidenceReader } from './evidence-reader.js';
import { EvidenceService } from './evidence.service.js';

/** Signed checkpoints (cadence, on demand, kept in three places) and the auditor's key history. Seals are made where rows are appended (ROW_SEALER). */
@Module({
  imports: [ApiKeysModule],
  controllers: [EvidenceController],
  providers: [CheckpointStream, CheckpointFileSink, AuditorKeys, CheckpointService, EvidenceService, EvidenceReader],
  exports: [EvidenceReader],
})
export class EvidenceModule {}
