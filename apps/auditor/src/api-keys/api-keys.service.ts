import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { apiKeyId, generateApiKey, hashApiKey, type Principal, type Role, type TenantScope } from '@autoheal/access';
import { newEventId } from '@autoheal/contracts';
import { createLogger } from '@autoheal/telemetry';
import { auditLogRepository } from '../audit-log/audit-log.repository.js';
import { CLOCK, type Clock } from '../clock.js';
import { isActive, keyChangeEntries, type KeyChange } from './api-key-records.js';
import { ApiKeysBucket } from './api-keys.bucket.js';
import { ApiKeysError, ApiKeysErrorCode } from './api-keys.errors.js';
import { apiKeysRepository as repo, type ApiKeyRow } from './api-keys.repository.js';
import { ROW_SEALER, type RowSealer } from '../evidence/row-sealer.js';

const log = createLogger('auditor');

export interface NewKeyRequest {
  subject: string;
  roles: Role[];
  tenantScope: TenantScope;
  expiresAt: Date | null;
  label: string | null;
}

/** Who asks, and from where (e.g. `POST /v1/api-keys from 10.0.0.7`). */
export interface KeyActor {
  principal: Principal;
  source: string;
}

/**
 * People's API keys: created (the secret is returned once; only its sha256 is stored), listed,
 * expired and revoked. Each change is appended to the audit trail in the same transaction, with
 * the caller's credential as the actor, and mirrored into the API_KEYS bucket under the bucket's
 * lock: a revoke or an expiry reaches the bucket before it commits (if the bucket is down, nothing
 * changes), a new key after it commits (a key never appears in the bucket that the database lacks).
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly bucket: ApiKeysBucket,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
  ) {}

  async create(request: NewKeyRequest, actor: KeyActor): Promise<{ key: string; row: ApiKeyRow }> {
    const now = this.clock.now();
    if (request.expiresAt && request.expiresAt.getTime() <= now.getTime()) throw new ApiKeysError(ApiKeysErrorCode.InvalidExpiry, 'expiresAt must be in the future', 'expiresAt');
    const key = generateApiKey();
    const keyHash = hashApiKey(key);
    const row = await this.db.transaction(async (m) => {
      const inserted = await repo.insert(m, {
        id: apiKeyId(keyHash),
        keyHash,
        subject: request.subject,
        roles: [...new Set(request.roles)],
        tenantScope: request.tenantScope,
        label: request.label ?? `created by ${actor.principal.subject}`,
        origin: 'api',
        createdBy: actor.principal.subject,
        expiresAt: request.expiresAt,
      });
      await this.audit(m, 'created', inserted, actor, now);
      return inserted;
    });
    await this.publish(row.id).catch((error: unknown) => log.error({ err: error, apiKeyId: row.id }, 'new API key not yet in the API_KEYS bucket; the next reconciliation adds it'));
    return { key, row };
  }

  async page(after: string | undefined, limit: number): Promise<{ items: ApiKeyRow[]; next: string | null }> {
    const rows = await repo.page(this.db.manager, after, limit + 1);
    const items = rows.slice(0, limit);
    return { items, next: rows.length > limit ? items[items.length - 1].id : null };
  }

  async revoke(id: string, actor: KeyActor): Promise<ApiKeyRow> {
    return this.change(id, actor, async (m, row, now) => {
      const revoked = await repo.setRevoked(m, row.id, now);
      await this.bucket.remove(row.keyHash);
      return { change: 'revoked', row: revoked };
    });
  }

  /** Brings the key's expiry forward to `at` (default now); a key's life can be shortened, never extended. */
  async expire(id: string, at: Date | undefined, actor: KeyActor): Promise<ApiKeyRow> {
    return this.change(id, actor, async (m, row, now) => {
      const when = at ?? now;
      if (when.getTime() < now.getTime()) throw new ApiKeysError(ApiKeysErrorCode.InvalidExpiry, 'at must not be in the past', 'at');
      if (row.expiresAt && when.getTime() > row.expiresAt.getTime()) {
        throw new ApiKeysError(ApiKeysErrorCode.InvalidExpiry, `at must not be after the key's current expiry ${row.expiresAt.toISOString()}`, 'at');
      }
      const expired = await repo.setExpiry(m, row.id, when);
      if (isActive(expired, now)) await this.bucket.put(expired);
      else await this.bucket.remove(row.keyHash);
      return { change: 'expired', row: expired };
    });
  }

  private async change(id: string, actor: KeyActor, apply: (m: EntityManager, row: ApiKeyRow, now: Date) => Promise<{ change: KeyChange; row: ApiKeyRow }>): Promise<ApiKeyRow> {
    return this.db.transaction(async (m) => {
      await this.bucket.lock(m);
      const now = this.clock.now();
      const row = await repo.findByIdForUpdate(m, id);
      if (!row) throw new ApiKeysError(ApiKeysErrorCode.NotFound, `API key ${id} does not exist`);
      if (row.revokedAt) throw new ApiKeysError(ApiKeysErrorCode.Revoked, `API key ${id} was revoked at ${row.revokedAt.toISOString()}`);
      const result = await apply(m, row, now).catch((error: unknown) => {
        if (error instanceof ApiKeysError) throw error;
        log.error({ err: error, apiKeyId: id }, 'could not change the API_KEYS bucket; nothing changed');
        throw new ApiKeysError(ApiKeysErrorCode.BucketUnavailable, 'the API_KEYS bucket could not be changed; nothing was changed, try again');
      });
      await this.audit(m, result.change, result.row, actor, now);
      return result.row;
    });
  }

  /** Puts a committed key into the bucket, under its lock, if it is still active. */
  private async publish(id: string): Promise<void> {
    await this.db.transaction(async (m) => {
      await this.bucket.lock(m);
      const row = await repo.findByIdForUpdate(m, id);
      if (row && isActive(row, this.clock.now())) await this.bucket.put(row);
    });
  }

  private async audit(m: EntityManager, change: KeyChange, row: ApiKeyRow, actor: KeyActor, at: Date): Promise<void> {
    const entries = keyChangeEntries(change, row, { actor: actor.principal, source: actor.source, at, eventId: () => newEventId(at.getTime()) });
    for (const entry of entries) await auditLogRepository.append(m, entry, null, this.sealer);
  }
}
