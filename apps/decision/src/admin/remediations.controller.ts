import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApprovalsService } from '../approvals/approvals.service.js';
import { BreakerService } from '../breaker/breaker.service.js';
import type { BreakerState, TenantBreakerState } from '../breaker/breaker.repository.js';
import type { RemediationRow } from '../planning/remediations.repository.js';
import { toHttp } from './admin-errors.js';
import { AdminKeyGuard } from './admin-key.guard.js';
import { ReviewDto } from './dto/admin.dto.js';

function summary(row: RemediationRow): { remediationId: string; incidentId: string; status: string; action: string | null; reason: string } {
  return { remediationId: row.remediationId, incidentId: row.incidentId, status: row.status, action: row.action, reason: row.reason };
}

/** Approvals and the circuit breaker: the decisions a human takes. */
@ApiTags('operations')
@ApiBearerAuth()
@UseGuards(AdminKeyGuard)
@Controller('v1/admin')
export class OperationsController {
  constructor(
    private readonly approvals: ApprovalsService,
    private readonly breaker: BreakerService,
  ) {}

  @Post(String.raw`remediations/:remediationId\:approve`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Approve a remediation awaiting approval (the executor then runs it)' })
  async approve(@Param('remediationId', new ParseUUIDPipe()) id: string, @Body() body: ReviewDto): Promise<ReturnType<typeof summary>> {
    return summary(await this.approvals.approve(id, body.who, body.reason).catch(toHttp));
  }

  @Post(String.raw`remediations/:remediationId\:reject`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Reject a remediation awaiting approval' })
  async reject(@Param('remediationId', new ParseUUIDPipe()) id: string, @Body() body: ReviewDto): Promise<ReturnType<typeof summary>> {
    return summary(await this.approvals.reject(id, body.who, body.reason).catch(toHttp));
  }

  @Get('breaker')
  @ApiOperation({ summary: 'The global circuit breaker' })
  async breakerState(): Promise<BreakerState> {
    return this.breaker.state();
  }

  @Post(String.raw`breaker\:resume`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Close the circuit breaker: automatic actions resume' })
  async resume(@Body() body: ReviewDto): Promise<BreakerState & { resumed: boolean }> {
    return this.breaker.resume(body.who, body.reason);
  }

  @Post(String.raw`breaker/tenants/:tenantId\:resume`)
  @HttpCode(200)
  @ApiOperation({ summary: "Close one tenant's circuit breaker: its automatic actions resume" })
  async resumeTenant(@Param('tenantId') tenantId: string, @Body() body: ReviewDto): Promise<TenantBreakerState & { resumed: boolean }> {
    return this.breaker.resumeTenant(tenantId, body.who, body.reason);
  }
}
