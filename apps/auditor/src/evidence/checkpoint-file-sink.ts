import { Inject, Injectable } from '@nestjs/common';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublicKeyRecord, SignedPoint } from '@autoheal/evidence';
import { createLogger } from '@autoheal/telemetry';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import type { AuditorConfig } from '../config.js';

/**
 * The file sink: each checkpoint appended as a JSON line to `<dir>/<tenant>.checkpoints.jsonl`,
 * each key to `<dir>/keys.jsonl`, synced before the append counts as done. On its own a directory
 * is only as safe as the host; production points it at storage that refuses rewrites (README:
 * object lock, append-only attributes, a different host).
 */
@Injectable()
export class CheckpointFileSink {
  readonly dir: string | null;

  constructor(@Inject(AUDITOR_CONFIG) config: AuditorConfig) {
    this.dir = config.AUDITOR_CHECKPOINT_DIR ?? null;
    if (this.dir === null) createLogger('auditor').warn('AUDITOR_CHECKPOINT_DIR is not set: checkpoints are kept in the database and the AUDIT_CHECKPOINTS stream only, not in files');
  }

  /** False when no directory is configured. */
  async appendCheckpoint(checkpoint: SignedPoint): Promise<boolean> {
    return this.append(`${checkpoint.tenantId}.checkpoints.jsonl`, checkpoint);
  }

  async appendKey(key: PublicKeyRecord): Promise<boolean> {
    return this.append('keys.jsonl', key);
  }

  private async append(name: string, value: unknown): Promise<boolean> {
    if (this.dir === null) return false;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = await open(join(this.dir, name), 'a', 0o600);
    try {
      await file.appendFile(`${JSON.stringify(value)}\n`);
      await file.datasync();
    } finally {
      await file.close();
    }
    return true;
  }
}
