import { Body, Controller, ForbiddenException, Get, HttpCode, Inject, Param, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { mayAccessTenant, type Principal } from '@autoheal/access';
import { BacktestService, type BacktestReport } from '../backtest/backtest.service.js';
import { CLOCK, type Clock } from '../clock.js';
import { TenantsService, type ApplyResult } from '../tenants/tenants.service.js';
import type { StoredTenant, TenantVersion } from '../tenants/tenants.repository.js';
import { toHttp } from './admin-errors.js';
import { AdminRefusalFilter } from './admin-refusal.filter.js';
import { AdminGuard, CurrentPrincipal, RequirePermission } from './admin.guard.js';
import { ApplyTenantsDto, BacktestDto, DiffQueryDto, VersionsQueryDto } from './dto/admin.dto.js';

const DAY_MS = 24 * 60 * 60_000;

/** The tenant ids a batch of documents names (invalid documents are the service's to refuse, with 422). */
function namedTenants(documents: Record<string, unknown>[]): string[] {
  return documents.flatMap((d) => (typeof d.tenantId === 'string' ? [d.tenantId] : []));
}

/**
 * Tenants as code over HTTP; thin: each route delegates to one service call. Reads need any role
 * and the tenant in scope (the list shows only the tenants in scope); apply needs the operator or
 * admin role over every tenant it names. Reading a tenant that has no document answers 404 and
 * creates nothing.
 */
@ApiTags('tenants')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No credential, or an unknown, revoked or expired one, or an invalid token' })
@ApiForbiddenResponse({ description: "The credential's roles or tenant scope do not allow this" })
@UseGuards(AdminGuard)
@UseFilters(AdminRefusalFilter)
@Controller('v1/admin')
export class TenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly backtest: BacktestService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post(String.raw`tenants\:apply`)
  @HttpCode(200)
  @RequirePermission('tenants:apply')
  @ApiOperation({ summary: "Apply tenant documents, all or nothing (422 lists every error; unchanged documents are no-ops). Operator or admin; recorded as applied by the credential's subject" })
  async apply(@Body() body: ApplyTenantsDto, @CurrentPrincipal() principal: Principal): Promise<{ results: ApplyResult[] }> {
    const outside = namedTenants(body.documents).filter((t) => !mayAccessTenant(principal, t));
    if (outside.length > 0) {
      throw new ForbiddenException({ statusCode: 403, error: 'Forbidden', code: 'tenant_forbidden', message: `outside this credential's scope: ${[...new Set(outside)].join(', ')}; nothing was applied` });
    }
    return { results: await this.tenants.apply(body.documents, principal.subject).catch(toHttp) };
  }

  @Get('tenants')
  @RequirePermission('read')
  @ApiOperation({ summary: "The tenants in the credential's scope, each with its current version" })
  async list(@CurrentPrincipal() principal: Principal): Promise<{ items: { tenantId: string; displayName?: string; version: string; appliedBy: string; updatedAt: Date }[] }> {
    const items = await this.tenants.list(principal.tenantScope);
    return { items: items.map((t) => ({ tenantId: t.tenantId, displayName: t.document.displayName, version: t.policyVersion, appliedBy: t.appliedBy, updatedAt: t.updatedAt })) };
  }

  @Get('tenants/:tenantId')
  @RequirePermission('read')
  @ApiOperation({ summary: "A tenant's current document" })
  async get(@Param('tenantId') tenantId: string, @CurrentPrincipal() principal: Principal): Promise<StoredTenant> {
    return this.tenants.get(principal.tenantScope, tenantId).catch(toHttp);
  }

  @Get('tenants/:tenantId/versions')
  @RequirePermission('read')
  @ApiOperation({ summary: "A tenant's versions, newest first (page with ?before=<seq>)" })
  async versions(@Param('tenantId') tenantId: string, @Query() query: VersionsQueryDto, @CurrentPrincipal() principal: Principal): Promise<{ items: TenantVersion[]; next: number | null }> {
    const limit = query.limit ?? 20;
    const items = await this.tenants.versions(principal.tenantScope, tenantId, { limit, before: query.before }).catch(toHttp);
    return { items, next: items.length === limit ? items[items.length - 1].seq : null };
  }

  @Get('tenants/:tenantId/diff')
  @RequirePermission('read')
  @ApiOperation({ summary: 'What changed between two versions' })
  async diff(@Param('tenantId') tenantId: string, @Query() query: DiffQueryDto, @CurrentPrincipal() principal: Principal): Promise<Awaited<ReturnType<TenantsService['diff']>>> {
    return this.tenants.diff(principal.tenantScope, tenantId, query.from, query.to).catch(toHttp);
  }

  @Post('tenants/:tenantId/backtest')
  @RequirePermission('read')
  @HttpCode(200)
  @ApiOperation({ summary: "Replay the tenant's past incidents against a candidate document (changes nothing)" })
  async runBacktest(@Param('tenantId') tenantId: string, @Body() body: BacktestDto, @CurrentPrincipal() principal: Principal): Promise<BacktestReport> {
    const since = body.since ? new Date(body.since) : new Date(this.clock.now().getTime() - 30 * DAY_MS);
    return this.backtest.run(principal.tenantScope, tenantId, body.document, since, body.limit ?? 1000).catch(toHttp);
  }
}
