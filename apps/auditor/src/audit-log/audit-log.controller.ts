import { Controller, Get, Param, Query, Req, UseFilters, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { ApiKeyPrincipal } from '../api-keys/api-key.js';
import { ApiKeyGuard, CurrentApiKey } from '../api-keys/api-key.guard.js';
import { AuditLogExceptionFilter } from './audit-log.exception-filter.js';
import { AuditReadService, type ApiCaller } from './audit-read.service.js';
import { AuditItemDto, AuditPageDto } from './dto/audit-item.dto.js';
import { ErrorResponseDto } from './dto/error-response.dto.js';
import { ListAuditQueryDto } from './dto/list-audit.query.dto.js';
import { TenantParamsDto } from './dto/tenant.params.dto.js';
import { VerifyResultDto } from './dto/verify-result.dto.js';
import { VerifyQueryDto } from './dto/verify.query.dto.js';
import { ExportBundleDto, ExportQueryDto } from './dto/export.dto.js';

interface RequestOrigin {
  method: string;
  originalUrl: string;
  ip?: string;
}

/**
 * Who asks, from where, and whose rows the credential may see. Row-level security is set from the
 * credential's scope: the path's tenant counts only when that scope names it (a tenant outside it
 * matches no row, even if the guard were bypassed).
 */
function caller(principal: ApiKeyPrincipal, tenantId: string, req: RequestOrigin): ApiCaller {
  return {
    actor: principal.id,
    source: `${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip ?? 'unknown'}`,
    scope: principal.tenantScope === '*' ? { kind: 'all' } : { kind: 'tenant', tenantId: principal.tenantScope.includes(tenantId) ? tenantId : '' },
  };
}

@ApiTags('audit')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No API key, or an unknown or revoked one', type: ErrorResponseDto })
@ApiForbiddenResponse({ description: "A tenant API key asking for another tenant's log", type: ErrorResponseDto })
@ApiBadRequestResponse({ description: 'Invalid tenant id, query parameter or cursor; the message names the field', type: ErrorResponseDto })
@ApiTooManyRequestsResponse({
  description: 'The API key spent its read budget (`code: rate_limited`, `limit`: `reads` or `full_verify`, `retryAfterSeconds`; header Retry-After)',
  type: ErrorResponseDto,
})
@UseGuards(ApiKeyGuard)
@UseFilters(AuditLogExceptionFilter)
@Controller('v1/tenants/:tenantId/audit')
export class AuditLogController {
  constructor(private readonly audit: AuditReadService) {}

  @Get()
  @ApiOperation({
    summary: "A page of the tenant's audit trail, oldest first",
    description:
      'Reads are recorded in the trail: one `audit.read` row per API key per window (AUDITOR_READ_RECORD_WINDOW_SECONDS) with a count (use `type` to leave those out). A tenant without a chain reads as an empty page, and the read records nothing. Costs 1 token of the key\'s read budget.',
  })
  @ApiOkResponse({ type: AuditPageDto })
  async list(
    @Param() params: TenantParamsDto,
    @Query() query: ListAuditQueryDto,
    @CurrentApiKey() principal: ApiKeyPrincipal,
    @Req() req: RequestOrigin,
  ): Promise<AuditPageDto> {
    const page = await this.audit.list(params.tenantId, query, caller(principal, params.tenantId, req));
    return { items: page.items.map((row) => AuditItemDto.from(row)), nextCursor: page.nextCursor };
  }

  @Get('verify')
  @ApiOperation({
    summary: "Recomputes the tenant's hash chain after its last verified point (or from the first row, full=true) and reports the first break",
    description:
      'Counted in the caller\'s `audit.read` row like a page read (costs AUDITOR_VERIFY_COST tokens; full=true its own, smaller budget); a verification that finds a break is recorded at once as an `audit.verify` row carrying the verdict.',
  })
  @ApiOkResponse({ type: VerifyResultDto })
  verify(
    @Param() params: TenantParamsDto,
    @Query() query: VerifyQueryDto,
    @CurrentApiKey() principal: ApiKeyPrincipal,
    @Req() req: RequestOrigin,
  ): Promise<VerifyResultDto> {
    return this.audit.verify(params.tenantId, caller(principal, params.tenantId, req), { full: query.full });
  }

  @Get('export')
  @ApiOperation({
    summary: "A bundle of the tenant's rows recorded in [from, to), verifiable offline",
    description:
      'Rows (JSON Lines), their seals, every checkpoint of the tenant (the AUDIT_CHECKPOINTS stream’s latest included), the public keys that signed them, and a manifest of sha256 hashes signed by the auditor. `autoheal audit export` writes it to a directory; `autoheal audit verify-bundle` checks it with no database and no network. Charged like `verify?full=true` (its budget); at most AUDITOR_EXPORT_MAX_ROWS rows.',
  })
  @ApiOkResponse({ type: ExportBundleDto })
  async exportBundle(
    @Param() params: TenantParamsDto,
    @Query() query: ExportQueryDto,
    @CurrentApiKey() principal: ApiKeyPrincipal,
    @Req() req: RequestOrigin,
  ): Promise<ExportBundleDto> {
    const files = await this.audit.exportBundle(params.tenantId, query, caller(principal, params.tenantId, req));
    return { files: Object.fromEntries(files) };
  }
}
