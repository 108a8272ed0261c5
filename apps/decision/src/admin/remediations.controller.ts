import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Principal } from '@autoheal/access';
import { ApprovalsService } from '../approvals/approvals.service.js';
import { BreakerService, type BreakerOverview } from '../breaker/breaker.service.js';
import type { BreakerState, TenantBreakerState } from '../breaker/breaker.repository.js';
import type { RemediationRow } from '../planning/remediations.repository.js';
import { toHttp } from './admin-errors.js';
import { AdminRefusalFilter } from './admin-refusal.filter.js';
import { AdminGuard, CurrentPrincipal, RequirePermission } from './admin.guard.js';
import { ReviewDto } from './dto/admin.dto.js';

function summary(row: RemediationRow): { remediationId: string; incidentId: string; status: string; action: string | null; reason: string } {
  return { remediationId: row.remediationId, incidentId: row.incidentId, status: row.status, action: row.action, reason: row.reason };
}

/** Approvals and the circuit breaker: the decisions a human takes, recorded under the credential's subject. */
@ApiTags('operations')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No credential, or an unknown, revoked or expired one, or an invalid token' })
@ApiForbiddenResponse({ description: "The credential's roles or tenant scope do not allow this" })
@UseGuards(AdminGuard)
@UseFilters(AdminRefusalFilter)
@Controller('v1/admin')
export class OperationsController {
  constructor(
    private readonly approvals: ApprovalsService,
    private readonly breaker: BreakerService,
  ) {}

  @Post(String.raw`remediations/:remediationId\:approve`)
  @HttpCode(200)
  @RequirePermission('remediations:review')
  @ApiOperation({ summary: "Approve a remediation awaiting approval (the executor then runs it). Approver or admin, with the remediation's tenant in scope; recorded as approved by the credential's subject" })
  async approve(@Param('remediationId', new ParseUUIDPipe()) id: string, @Body() body: ReviewDto, @CurrentPrincipal() principal: Principal): Promise<ReturnType<typeof summary>> {
    return summary(await this.approvals.approve(id, principal, body.reason).catch(toHttp));
  }

  @Post(String.raw`remediations/:remediationId\:reject`)
  @HttpCode(200)
  @RequirePermission('remediations:review')
  @ApiOperation({ summary: "Reject a remediation awaiting approval. Approver or admin, with the remediation's tenant in scope" })
  async reject(@Param('remediationId', new ParseUUIDPipe()) id: string, @Body() body: ReviewDto, @CurrentPrincipal() principal: Principal): Promise<ReturnType<typeof summary>> {
    return summary(await this.approvals.reject(id, principal, body.reason).catch(toHttp));
  }

  @Get('breaker')
  @RequirePermission('read')
  @ApiOperation({ summary: "The global circuit breaker and the breakers of the tenants in the credential's scope (any role)" })
  async breakerState(@CurrentPrincipal() principal: Principal): Promise<BreakerOverview> {
    return this.breaker.state(principal.tenantScope);
  }

  @Post(String.raw`breaker\:resume`)
  @HttpCode(200)
  @RequirePermission('breaker:resume', { everyTenant: true })
  @ApiOperation({ summary: "Close the circuit breaker: automatic actions resume. Approver or admin over every tenant (the breaker is global); recorded as resumed by the credential's subject" })
  async resume(@Body() body: ReviewDto, @CurrentPrincipal() principal: Principal): Promise<BreakerState & { resumed: boolean }> {
    return this.breaker.resume(principal.subject, body.reason);
  }

  @Post(String.raw`breaker/tenants/:tenantId\:resume`)
  @HttpCode(200)
  @RequirePermission('breaker:resume')
  @ApiOperation({ summary: "Close one tenant's circuit breaker: its automatic actions resume. Approver or admin with the tenant in scope; recorded as resumed by the credential's subject" })
  async resumeTenant(@Param('tenantId') tenantId: string, @Body() body: ReviewDto, @CurrentPrincipal() principal: Principal): Promise<TenantBreakerState & { resumed: boolean }> {
    return this.breaker.resumeTenant(tenantId, principal.subject, body.reason);
  }
}
