import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BacktestService, type BacktestReport } from '../backtest/backtest.service.js';
import { CLOCK, type Clock } from '../clock.js';
import { TenantsService, type ApplyResult } from '../tenants/tenants.service.js';
import type { StoredTenant, TenantVersion } from '../tenants/tenants.repository.js';
import { toHttp } from './admin-errors.js';
import { AdminKeyGuard } from './admin-key.guard.js';
import { ApplyTenantsDto, BacktestDto, DiffQueryDto, VersionsQueryDto } from './dto/admin.dto.js';

const DAY_MS = 24 * 60 * 60_000;

/** Tenants as code over HTTP; thin: each route delegates to one service call. */
@ApiTags('tenants')
@ApiBearerAuth()
@UseGuards(AdminKeyGuard)
@Controller('v1/admin')
export class TenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly backtest: BacktestService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post(String.raw`tenants\:apply`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Apply tenant documents, all or nothing (422 lists every error; unchanged documents are no-ops)' })
  async apply(@Body() body: ApplyTenantsDto): Promise<{ results: ApplyResult[] }> {
    return { results: await this.tenants.apply(body.documents, body.changedBy ?? 'admin-api').catch(toHttp) };
  }

  @Get('tenants')
  @ApiOperation({ summary: 'Every tenant with its current version' })
  async list(): Promise<{ items: { tenantId: string; displayName?: string; version: string; appliedBy: string; updatedAt: Date }[] }> {
    const items = await this.tenants.list();
    return { items: items.map((t) => ({ tenantId: t.tenantId, displayName: t.document.displayName, version: t.policyVersion, appliedBy: t.appliedBy, updatedAt: t.updatedAt })) };
  }

  @Get('tenants/:tenantId')
  @ApiOperation({ summary: "A tenant's current document" })
  async get(@Param('tenantId') tenantId: string): Promise<StoredTenant> {
    return this.tenants.get(tenantId).catch(toHttp);
  }

  @Get('tenants/:tenantId/versions')
  @ApiOperation({ summary: "A tenant's versions, newest first (page with ?before=<seq>)" })
  async versions(@Param('tenantId') tenantId: string, @Query() query: VersionsQueryDto): Promise<{ items: TenantVersion[]; next: number | null }> {
    const limit = query.limit ?? 20;
    const items = await this.tenants.versions(tenantId, { limit, before: query.before }).catch(toHttp);
    return { items, next: items.length === limit ? items[items.length - 1].seq : null };
  }

  @Get('tenants/:tenantId/diff')
  @ApiOperation({ summary: 'What changed between two versions' })
  async diff(@Param('tenantId') tenantId: string, @Query() query: DiffQueryDto): Promise<Awaited<ReturnType<TenantsService['diff']>>> {
    return this.tenants.diff(tenantId, query.from, query.to).catch(toHttp);
  }

  @Post('tenants/:tenantId/backtest')
  @HttpCode(200)
  @ApiOperation({ summary: "Replay the tenant's past incidents against a candidate document (changes nothing)" })
  async runBacktest(@Param('tenantId') tenantId: string, @Body() body: BacktestDto): Promise<BacktestReport> {
    const since = body.since ? new Date(body.since) : new Date(this.clock.now().getTime() - 30 * DAY_MS);
    return this.backtest.run(tenantId, body.document, since, body.limit ?? 1000).catch(toHttp);
  }
}
