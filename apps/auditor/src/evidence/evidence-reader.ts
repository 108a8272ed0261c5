import { Inject, Injectable } from '@nestjs/common';
import type { KeyResolver, PublicKeyRecord, SignedPoint } from '@autoheal/evidence';
import type { SigningKey } from '@autoheal/security';
import { createLogger } from '@autoheal/telemetry';
import { AuditorKeys } from './auditor-keys.js';
import { CheckpointStream } from './checkpoint-stream.js';
import { ROW_SEALER, type RowSealer } from './row-sealer.js';

/** The latest checkpoint kept outside the database, and whether the stream could be asked. */
export interface ExternalCheckpoint {
  point: SignedPoint | null;
  consulted: boolean;
}

/**
 * What verification and export read besides the rows: the tenant's latest checkpoint on the
 * AUDIT_CHECKPOINTS stream (out of the database's reach), the keys that may have signed, and the
 * key that signs an export's manifest.
 */
@Injectable()
export class EvidenceReader {
  constructor(
    private readonly stream: CheckpointStream,
    private readonly keys: AuditorKeys,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
  ) {}

  get signingKey(): SigningKey {
    return this.sealer.key;
  }

  /** Never throws: a stream that does not answer is reported as not consulted, and verification goes on with the database's checkpoints. */
  async externalCheckpoint(tenantId: string): Promise<ExternalCheckpoint> {
    try {
      return { point: await this.stream.latestCheckpoint(tenantId), consulted: true };
    } catch (error) {
      createLogger('auditor').warn({ tenantId, error: String(error) }, 'the AUDIT_CHECKPOINTS stream did not answer: verifying against the database’s checkpoints only');
      return { point: null, consulted: false };
    }
  }

  loadKeys(keyIds: Iterable<string>): Promise<void> {
    return this.keys.load(keyIds);
  }

  resolver(): KeyResolver {
    return this.keys.resolver();
  }

  history(recorded: readonly PublicKeyRecord[], used: ReadonlyMap<string, string>): PublicKeyRecord[] {
    return this.keys.history(recorded, used);
  }
}
