import { Inject, Injectable } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import type { KeyResolver, PublicKeyRecord } from '@autoheal/evidence';
import { SIGNING_MATERIAL, type SigningMaterial } from '@autoheal/messaging';
import { parsePublicKey, publicKeyToBase64 } from '@autoheal/security';
import { createLogger } from '@autoheal/telemetry';
import { CheckpointStream } from './checkpoint-stream.js';
import { ROW_SEALER, type RowSealer } from './row-sealer.js';

/**
 * Which public keys may have signed seals and checkpoints: the auditor's keys in the trust file
 * (current and, during a rotation, the others listed for `auditor`), and every key the auditor
 * announced on the AUDIT_CHECKPOINTS stream when it first signed with it — so keys retired from
 * the trust file still verify what they signed. Never the database's `signing_keys` alone: whoever
 * can write the database could list a key of their own there.
 */
@Injectable()
export class AuditorKeys {
  private readonly known = new Map<string, KeyObject>();
  /** Key ids the stream was asked about and did not know (asked again after a minute). */
  private readonly unknownUntil = new Map<string, number>();

  constructor(
    @Inject(SIGNING_MATERIAL) signing: SigningMaterial,
    @Inject(ROW_SEALER) sealer: RowSealer,
    private readonly stream: CheckpointStream,
  ) {
    for (const key of signing.trust.keys.values()) if (key.identity === 'auditor') this.known.set(key.keyId, key.publicKey);
    this.known.set(sealer.key.keyId, sealer.key.publicKey);
  }

  /** Looks up, on the stream, the keys among `keyIds` that are not known yet; a stream that does not answer leaves them unknown. */
  async load(keyIds: Iterable<string>): Promise<void> {
    const now = Date.now();
    for (const keyId of new Set(keyIds)) {
      if (this.known.has(keyId) || (this.unknownUntil.get(keyId) ?? 0) > now) continue;
      try {
        const announced = await this.stream.announcedKey(keyId);
        const key = announced ? parsePublicKey(announced.publicKey) : null;
        if (key && announced?.keyId === keyId) this.known.set(keyId, key);
        else this.unknownUntil.set(keyId, now + 60_000);
      } catch (error) {
        createLogger('auditor').warn({ keyId, error: String(error) }, 'could not look up a signing key on the AUDIT_CHECKPOINTS stream');
        this.unknownUntil.set(keyId, now + 5_000);
      }
    }
  }

  resolver(): KeyResolver {
    return (keyId) => this.known.get(keyId) ?? null;
  }

  /**
   * The key history as it can be trusted: each key of `recorded` (the database's history) and of
   * `used` (key id → earliest signature seen) that is a trusted key, with the trusted public key.
   */
  history(recorded: readonly PublicKeyRecord[], used: ReadonlyMap<string, string> = new Map()): PublicKeyRecord[] {
    const firstUsed = new Map<string, string>(used);
    for (const r of recorded) firstUsed.set(r.keyId, r.firstUsedAt);
    const keys: PublicKeyRecord[] = [];
    for (const [keyId, firstUsedAt] of firstUsed) {
      const key = this.known.get(keyId);
      if (key) keys.push({ keyId, publicKey: publicKeyToBase64(key), firstUsedAt });
    }
    return keys.sort((a, b) => a.firstUsedAt.localeCompare(b.firstUsedAt) || a.keyId.localeCompare(b.keyId));
  }
}
