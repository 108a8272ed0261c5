import { Controller, Get, Param, Query, Req, UseFilters, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { ApiKeyPrincipal } from '../api-keys/api-key.js';
import { ApiKeyGuard, CurrentApiKey } from '../api-keys/api-key.guard.js';
import { AuditLogExceptionFilter } from './audit-log.exception-filter.js';
import { AuditLogService, type ApiCaller } from './audit-log.service.js';
import { AuditItemDto, AuditPageDto } from './dto/audit-item.dto.js';
import { ErrorResponseDto } from './dto/error-response.dto.js';
import { ListAuditQueryDto } from './dto/list-audit.query.dto.js';
import { TenantParamsDto } from './dto/tenant.params.dto.js';
import { VerifyResultDto } from './dto/verify-result.dto.js';

interface RequestOrigin {
  method: string;
  originalUrl: string;
  ip?: string;
}

function caller(principal: ApiKeyPrincipal, req: RequestOrigin): ApiCaller {
  return { actor: principal.id, source: `${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip ?? 'unknown'}` };
}

@ApiTags('audit')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No API key, or an unknown or revoked one', type: ErrorResponseDto })
@ApiForbiddenResponse({ description: "A tenant API key asking for another tenant's log", type: ErrorResponseDto })
@ApiBadRequestResponse({ description: 'Invalid tenant id, query parameter or cursor; the message names the field', type: ErrorResponseDto })
@UseGuards(ApiKeyGuard)
@UseFilters(AuditLogExceptionFilter)
@Controller('v1/tenants/:tenantId/audit')
export class AuditLogController {
  constructor(private readonly audit: AuditLogService) {}

  @Get()
  @ApiOperation({
    summary: "A page of the tenant's audit trail, oldest first",
    description: 'Each successful call is itself recorded in the trail as an `audit.read` row (use `type` to leave those out).',
  })
  @ApiOkResponse({ type: AuditPageDto })
  async list(
    @Param() params: TenantParamsDto,
    @Query() query: ListAuditQueryDto,
    @CurrentApiKey() principal: ApiKeyPrincipal,
    @Req() req: RequestOrigin,
  ): Promise<AuditPageDto> {
    const page = await this.audit.list(params.tenantId, query, caller(principal, req));
    return { items: page.items.map((row) => AuditItemDto.from(row)), nextCursor: page.nextCursor };
  }

  @Get('verify')
  @ApiOperation({
    summary: "Recomputes the tenant's hash chain and reports the first break",
    description: 'Recorded in the trail as an `audit.verify` row carrying the verdict.',
  })
  @ApiOkResponse({ type: VerifyResultDto })
  verify(@Param() params: TenantParamsDto, @CurrentApiKey() principal: ApiKeyPrincipal, @Req() req: RequestOrigin): Promise<VerifyResultDto> {
    return this.audit.verify(params.tenantId, caller(principal, req));
  }
}
