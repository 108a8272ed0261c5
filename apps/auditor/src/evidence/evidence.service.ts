import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { PublicKeyRecord } from '@autoheal/evidence';
import { AuditorKeys } from './auditor-keys.js';
import { CheckpointService, type CheckpointResult } from './checkpoint.service.js';
import { signedPointsRepository as points } from './signed-points.repository.js';

/** The evidence API's operations: checkpoints on demand and the key history. */
@Injectable()
export class EvidenceService {
  constructor(
    private readonly db: DataSource,
    private readonly checkpoints: CheckpointService,
    private readonly keys: AuditorKeys,
  ) {}

  checkpoint(tenantId: string): Promise<CheckpointResult> {
    return this.checkpoints.checkpoint(tenantId);
  }

  async keyHistory(): Promise<PublicKeyRecord[]> {
    const recorded = await this.db.transaction((m) => points.keys(m));
    await this.keys.load(recorded.map((k) => k.keyId));
    return this.keys.history(recorded);
  }
}
