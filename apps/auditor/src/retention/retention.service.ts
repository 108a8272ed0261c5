import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, type EntityManager } from 'typeorm';
import { AUDIT_RETENTION, BASELINE_AUDIT_RETENTION, type AuditRetention } from '@autoheal/contracts';
import {
  BUNDLE_FILES,
  buildBundle,
  readBundleDir,
  signTombstone,
  verifyArchive,
  verifyBundle,
  writeBundleDir,
  type EvidenceRow,
  type SignedPoint,
  type Tombstone,
} from '@autoheal/evidence';
import { setTenantScope } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { auditLogRepository as log } from '../audit-log/audit-log.repository.js';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { EvidenceReader } from '../evidence/evidence-reader.js';
import { signedPointsRepository as points } from '../evidence/signed-points.repository.js';
import { partitionSpan, partitionStage, retainUntil, tenantRetention, type PartitionSpan, type PartitionStage } from './retention-policy.js';
import { retentionRepository as repo, type PartitionTenant } from './retention.repository.js';

/** Rows read per query while an archive is written. */
const ARCHIVE_BATCH = 5_000;

/** What a pass did with one partition. */
export interface PartitionOutcome {
  partition: string;
  stage: PartitionStage;
  tenants: string[];
  /** Archives written and verified in this pass (tenant ids). */
  archived: string[];
  /** Rows dropped (null: not dropped). */
  dropped: number | null;
  /** Why it was not dropped though due, or why an archive failed (null: nothing wrong). */
  problem: string | null;
}

/**
 * The audit log's retention (README "Retention"): monthly partitions created ahead; partitions
 * past the online window archived per tenant as signed bundles and verified; partitions past every
 * tenant's retention dropped after their archives verify again, each tenant's rows replaced by a
 * signed tombstone. Archiving runs as the auditor's role; dropping only through a connection of
 * the owner (`owner`), since the auditor's role can remove no row.
 */
@Injectable()
export class RetentionService {
  private readonly logger = createLogger('auditor');
  private readonly archiveDir: string;
  private readonly unknownTenant: AuditRetention;
  private readonly shortestOnline: AuditRetention;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    private readonly evidence: EvidenceReader,
  ) {
    this.archiveDir = config.AUDITOR_ARCHIVE_DIR;
    this.unknownTenant = { retainDays: config.AUDITOR_RETENTION_UNKNOWN_TENANT_DAYS, onlineDays: config.AUDITOR_RETENTION_UNKNOWN_TENANT_DAYS };
    const online = Math.min(BASELINE_AUDIT_RETENTION.onlineDays, this.unknownTenant.onlineDays, ...Object.values(AUDIT_RETENTION).map((r) => r.onlineDays));
    this.shortestOnline = { retainDays: online, onlineDays: online };
  }

  /** The current month and AUDITOR_PARTITIONS_AHEAD after it; returns the partitions created. */
  ensurePartitions(now: Date = this.clock.now()): Promise<string[]> {
    return this.db.transaction((m) => repo.ensurePartitions(m, now, this.config.AUDITOR_PARTITIONS_AHEAD));
  }

  /**
   * One pass: partitions ahead, every partition's stage, archives where due. With `owner` (a
   * connection as the owner role), also drops what is due; without, a partition due to be dropped
   * is only reported.
   */
  async run(options: { now?: Date; owner?: DataSource } = {}): Promise<PartitionOutcome[]> {
    const now = options.now ?? this.clock.now();
    await this.ensurePartitions(now);
    const names = await this.db.transaction((m) => repo.partitions(m));
    const out: PartitionOutcome[] = [];
    for (const name of names) {
      const span = partitionSpan(name);
      if (span) out.push(await this.partition(span, now, options.owner));
    }
    return out;
  }

  private async partition(span: PartitionSpan, now: Date, owner: DataSource | undefined): Promise<PartitionOutcome> {
    // Younger than the shortest online window there is: online whoever its tenants are, without reading it.
    if (partitionStage(span, [this.shortestOnline], now) === 'online') return { partition: span.name, stage: 'online', tenants: [], archived: [], dropped: null, problem: null };
    const { tenants, retention } = await this.all(async (m) => {
      const found = await repo.tenantsIn(m, span.from, span.to);
      const byTenant = new Map<string, AuditRetention>();
      for (const t of found) byTenant.set(t.tenantId, tenantRetention(await repo.policyChanges(m, t.tenantId), await repo.archivedRetention(m, t.tenantId), this.unknownTenant));
      return { tenants: found, retention: byTenant };
    });
    const stage = partitionStage(span, [...retention.values()], now);
    const outcome: PartitionOutcome = { partition: span.name, stage, tenants: tenants.map((t) => t.tenantId), archived: [], dropped: null, problem: null };
    if (stage === 'online') return outcome;
    for (const tenant of tenants) {
      const existing = await this.all((m) => repo.archive(m, span.name, tenant.tenantId));
      if (existing?.verifiedAt && existing.fromSeq === tenant.fromSeq && existing.toSeq === tenant.toSeq) continue;
      const problem = await this.archive(span, tenant, retention.get(tenant.tenantId)!, now);
      if (problem) {
        outcome.problem = problem;
        return outcome;
      }
      outcome.archived.push(tenant.tenantId);
    }
    if (stage !== 'drop') return outcome;
    if (!owner) {
      outcome.problem = 'due to be dropped: the drop runs through the owner role (AUDITOR_MAINTENANCE_DATABASE_URL)';
      return outcome;
    }
    return this.drop(span, tenants, now, owner, outcome);
  }

  /** Writes the tenant's rows of the partition as a signed bundle, verifies it from the files, records it. Null, or what went wrong. */
  private async archive(span: PartitionSpan, tenant: PartitionTenant, retention: AuditRetention, now: Date): Promise<string | null> {
    const files = await this.bundle(span, tenant, now);
    const location = join(span.name, tenant.tenantId);
    const dir = join(this.archiveDir, location);
    // Written aside, then moved into place: a pass that stops halfway leaves no partial archive where a complete one is expected.
    mkdirSync(join(this.archiveDir, span.name), { recursive: true });
    const staging = `${dir}.writing-${randomBytes(4).toString('hex')}`;
    writeBundleDir(staging, files);
    // An archive left there by an earlier pass that did not verify is kept aside, never deleted.
    if (existsSync(dir)) renameSync(dir, `${dir}.rejected-${now.getTime()}`);
    renameSync(staging, dir);
    const read = readBundleDir(dir);
    const verified = verifyBundle(read, { trustedKeys: this.trustedKeys(read) });
    const manifestSha256 = sha256(read.get(BUNDLE_FILES.manifest) ?? Buffer.alloc(0));
    const ok = verified.ok && verified.fromSeq === tenant.fromSeq && verified.toSeq === tenant.toSeq;
    await this.all((m) =>
      repo.saveArchive(
        m,
        {
          partition: span.name,
          tenantId: tenant.tenantId,
          fromSeq: tenant.fromSeq,
          toSeq: tenant.toSeq,
          location,
          manifestSha256,
          archivedAt: now,
          verifiedAt: ok ? now : null,
          retainUntil: retainUntil(span, retention),
        },
        retention,
      ),
    );
    if (ok) return null;
    const why = verified.firstBreak?.detail ?? verified.problems[0]?.detail ?? `the archive holds seq ${verified.fromSeq} to ${verified.toSeq}, the partition ${tenant.fromSeq} to ${tenant.toSeq}`;
    this.logger.error({ partition: span.name, tenantId: tenant.tenantId, why }, 'an audit archive did not verify: the partition is kept');
    return `the archive of ${tenant.tenantId} did not verify: ${why}`;
  }

  /** The bundle of a tenant's rows in the partition (the export's format): rows with their seals, the checkpoints up to them, the keys, a signed manifest. */
  private async bundle(span: PartitionSpan, tenant: PartitionTenant, now: Date): Promise<Map<string, string>> {
    const rows: EvidenceRow[] = [];
    for (let after = tenant.fromSeq - 1; after < tenant.toSeq; ) {
      const from = after;
      const batch = await this.all((m) => log.chainBatch(m, tenant.tenantId, from, tenant.toSeq, ARCHIVE_BATCH), tenant.tenantId);
      if (batch.length === 0) break;
      rows.push(...batch);
      after = batch[batch.length - 1].seq;
    }
    const { head, checkpoints, recorded } = await this.all(
      async (m) => ({
        head: await log.head(m, tenant.tenantId),
        checkpoints: (await points.checkpointsAfter(m, tenant.tenantId, 0)).filter((c) => c.seq <= tenant.toSeq),
        recorded: await points.keys(m),
      }),
      tenant.tenantId,
    );
    const seals = rows.flatMap((r) => (r.seal ? [r.seal] : []));
    const used = new Map<string, string>();
    for (const p of [...seals, ...checkpoints] as SignedPoint[]) if (!used.has(p.keyId) || p.signedAt < used.get(p.keyId)!) used.set(p.keyId, p.signedAt);
    await this.evidence.loadKeys(used.keys());
    return buildBundle(
      {
        tenantId: tenant.tenantId,
        exportedAt: now.toISOString(),
        from: span.from.toISOString(),
        to: span.to.toISOString(),
        fromSeq: tenant.fromSeq,
        headSeq: head?.seq ?? tenant.toSeq,
        rows: rows.map(({ seal: _seal, ...row }) => row),
        seals,
        checkpoints,
        keys: this.evidence.history(recorded, used),
      },
      this.evidence.signingKey,
    );
  }

  /**
   * Drops a partition whose every tenant's retention has passed: each archive is read back and
   * verified again, against the rows still in the database at both ends; a tombstone is signed
   * and stored per tenant; then the owner's `audit_drop_partition` checks archive, retention and
   * tombstones once more in SQL and drops.
   */
  private async drop(span: PartitionSpan, tenants: PartitionTenant[], now: Date, owner: DataSource, outcome: PartitionOutcome): Promise<PartitionOutcome> {
    for (const tenant of tenants) {
      const problem = await this.tombstone(span, tenant, now);
      if (problem) {
        await this.all((m) => repo.markVerified(m, span.name, tenant.tenantId, null));
        this.logger.error({ partition: span.name, tenantId: tenant.tenantId, problem }, 'an audit partition is due to be dropped but its archive does not hold: kept');
        return { ...outcome, problem };
      }
    }
    const dropped = await owner.transaction((m) => repo.dropPartition(m, span.name, now));
    this.logger.info({ partition: span.name, rows: dropped, tenants: tenants.map((t) => t.tenantId) }, 'audit partition archived, tombstoned and dropped');
    return { ...outcome, dropped };
  }

  private async tombstone(span: PartitionSpan, tenant: PartitionTenant, now: Date): Promise<string | null> {
    const record = await this.all((m) => repo.archive(m, span.name, tenant.tenantId));
    if (!record) return `no archive of ${tenant.tenantId}`;
    const dir = join(this.archiveDir, record.location);
    if (!existsSync(dir)) return `the archive of ${tenant.tenantId} is missing (${record.location})`;
    const files = readBundleDir(dir);
    const manifestSha256 = sha256(files.get(BUNDLE_FILES.manifest) ?? Buffer.alloc(0));
    const { first, last, existing } = await this.all(
      async (m) => ({
        first: await log.rowAt(m, tenant.tenantId, tenant.fromSeq),
        last: await log.rowAt(m, tenant.tenantId, tenant.toSeq),
        existing: (await points.tombstones(m, tenant.tenantId)).find((t) => t.fromSeq === tenant.fromSeq) ?? null,
      }),
      tenant.tenantId,
    );
    if (!first || !last) return `rows ${tenant.fromSeq} to ${tenant.toSeq} of ${tenant.tenantId} are not all in the database`;
    const tombstone: Tombstone =
      existing ??
      signTombstone(this.evidence.signingKey, {
        tenantId: tenant.tenantId,
        fromSeq: tenant.fromSeq,
        toSeq: tenant.toSeq,
        hashBefore: first.prevHash,
        hashAfter: last.hash,
        manifestSha256,
        partition: span.name,
        signedAt: now.toISOString(),
      });
    const checked = verifyArchive(files, tombstone, this.evidence.resolver(), { trustedKeys: this.trustedKeys(files) });
    // The tombstone is written from the database's rows: an archive that is not those rows fails here.
    if (!checked.ok || tombstone.hashBefore !== first.prevHash || tombstone.hashAfter !== last.hash || manifestSha256 !== record.manifestSha256) {
      const why = checked.tombstoneProblems[0]?.detail ?? checked.firstBreak?.detail ?? checked.problems[0]?.detail ?? 'the archive is not the one recorded';
      return `the archive of ${tenant.tenantId} does not verify: ${why}`;
    }
    if (!existing) await this.all((m) => repo.insertTombstone(m, tombstone), tenant.tenantId);
    // Beside the archive too, for whoever verifies it offline (`autoheal audit verify-bundle <dir> --tombstone <file>`).
    writeFileSync(`${dir}.tombstone.json`, `${JSON.stringify(tombstone, null, 2)}\n`);
    return null;
  }

  /** The keys of a bundle that this auditor trusts (its trust file and the keys announced on the stream). */
  private trustedKeys(files: ReadonlyMap<string, Uint8Array>): Map<string, KeyObject> {
    const resolve = this.evidence.resolver();
    const trusted = new Map<string, KeyObject>();
    try {
      const listed = (JSON.parse(Buffer.from(files.get(BUNDLE_FILES.keys) ?? '{}').toString('utf8')) as { keys?: { keyId: string }[] }).keys ?? [];
      for (const { keyId } of listed) {
        const key = resolve(keyId);
        if (key) trusted.set(keyId, key);
      }
    } catch {
      // keys.json unreadable: nothing trusted, and verifyBundle names the file.
    }
    return trusted;
  }

  /** A short transaction as the auditor's role, seeing every tenant's rows (row-level security's ops scope). */
  private all<T>(work: (m: EntityManager) => Promise<T>, tenantId: string | null = null): Promise<T> {
    return this.db.transaction(async (m) => {
      await setTenantScope(m, '*', tenantId);
      return work(m);
    });
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
