import { Controller, Get, HttpCode, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ApiKeyGuard } from '../api-keys/api-key.guard.js';
import { AuditLogExceptionFilter } from '../audit-log/audit-log.exception-filter.js';
import { ErrorResponseDto } from '../audit-log/dto/error-response.dto.js';
import { TenantParamsDto } from '../audit-log/dto/tenant.params.dto.js';
import { CheckpointResultDto, PublicKeysDto } from './dto/evidence.dto.js';
import { EvidenceService } from './evidence.service.js';

@ApiTags('audit evidence')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No credential, or an unknown or revoked one', type: ErrorResponseDto })
@ApiForbiddenResponse({ description: 'A tenant credential asking for another tenant', type: ErrorResponseDto })
@UseGuards(ApiKeyGuard)
@UseFilters(AuditLogExceptionFilter)
@Controller('v1')
export class EvidenceController {
  constructor(private readonly evidence: EvidenceService) {}

  @Post('tenants/:tenantId/audit/checkpoints')
  @HttpCode(201)
  @ApiOperation({
    summary: "Signs the tenant's chain head now (a checkpoint), besides the cadence",
    description:
      'Kept in the database, the AUDIT_CHECKPOINTS stream and the file sink. When the head has a checkpoint already, that one is returned (`created: false`): however often it is asked, there is at most one checkpoint per appended row.',
  })
  @ApiCreatedResponse({ type: CheckpointResultDto })
  @ApiNotFoundResponse({ description: 'The tenant has no chain (`code: no_chain`)', type: ErrorResponseDto })
  async checkpoint(@Param() params: TenantParamsDto): Promise<CheckpointResultDto> {
    return CheckpointResultDto.from(await this.evidence.checkpoint(params.tenantId));
  }

  @Get('audit/keys')
  @ApiOperation({
    summary: 'Every public key the auditor has signed seals and checkpoints with (the key history)',
    description: 'Only keys the auditor trusts (its trust file, or announced on the AUDIT_CHECKPOINTS stream when first used); give this list to verify-bundle as --trusted-keys.',
  })
  @ApiOkResponse({ type: PublicKeysDto })
  async keys(): Promise<PublicKeysDto> {
    return { keys: await this.evidence.keyHistory() };
  }
}
