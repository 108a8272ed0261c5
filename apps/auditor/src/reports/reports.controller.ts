import { Controller, Get, Param, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { ApiKeyPrincipal } from '../api-keys/api-key.js';
import { ApiKeyGuard, CurrentApiKey } from '../api-keys/api-key.guard.js';
import { callerOf, type RequestOrigin } from '../audit-log/api-caller.js';
import { AuditLogExceptionFilter } from '../audit-log/audit-log.exception-filter.js';
import { ErrorResponseDto } from '../audit-log/dto/error-response.dto.js';
import { TenantParamsDto } from '../audit-log/dto/tenant.params.dto.js';
import { ComplianceReportDto } from './dto/compliance-report.dto.js';
import { ComplianceReportQueryDto } from './dto/compliance-report.query.dto.js';
import { ReportsService } from './reports.service.js';

/** The response headers that carry a report's detached signature (libs/evidence report-signature.ts). */
export const REPORT_SIGNATURE_HEADERS = {
  keyId: 'x-autoheal-report-key-id',
  sha256: 'x-autoheal-report-sha256',
  signature: 'x-autoheal-report-signature',
} as const;

const SIGNED_HEADERS = {
  [REPORT_SIGNATURE_HEADERS.keyId]: { description: "The auditor's signing key (GET /v1/audit/keys lists its public key)", schema: { type: 'string' } },
  [REPORT_SIGNATURE_HEADERS.sha256]: { description: 'sha256 of the body, hex', schema: { type: 'string' } },
  [REPORT_SIGNATURE_HEADERS.signature]: {
    description: 'Ed25519, base64, over netstrings("autoheal.compliance-report.v1", format, tenant, sha256 of the body)',
    schema: { type: 'string' },
  },
};

@ApiTags('reports')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No credential, or an unknown or revoked one', type: ErrorResponseDto })
@ApiForbiddenResponse({ description: 'A credential without the tenant in its scope (the same answer whether or not the tenant exists)', type: ErrorResponseDto })
@ApiBadRequestResponse({ description: 'Invalid tenant id, from, to or format, or from not before to; the message names the field', type: ErrorResponseDto })
@ApiTooManyRequestsResponse({ description: 'The credential spent its read budget (`code: rate_limited`; header Retry-After)', type: ErrorResponseDto })
@UseGuards(ApiKeyGuard)
@UseFilters(AuditLogExceptionFilter)
@Controller('v1/tenants/:tenantId/reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('compliance')
  @ApiOperation({
    summary: 'The compliance report of the tenant for the period [from, to), per service, each figure mapped to controls and linked to its audit rows',
    description:
      "Availability against the target, detection time, time to remediate to verification, actions by kind and outcome, refusals by rule, breaches, approvals, policy changes: the auditor's README defines each. " +
      'Signed (Ed25519, detached) in the response headers; `autoheal report verify` checks a saved report. A read of the trail: any role with the tenant in scope, AUDITOR_VERIFY_COST tokens of the read budget, counted in the key\'s `audit.read` row.',
  })
  @ApiProduces('application/json', 'text/csv', 'text/html')
  @ApiOkResponse({ type: ComplianceReportDto, headers: SIGNED_HEADERS, description: 'format=json: this object as canonical JSON; csv and html: the same figures rendered' })
  async compliance(
    @Param() params: TenantParamsDto,
    @Query() query: ComplianceReportQueryDto,
    @CurrentApiKey() principal: ApiKeyPrincipal,
    @Req() req: RequestOrigin,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    const rendered = await this.reports.compliance(params.tenantId, query, callerOf(principal, params.tenantId, req));
    res.setHeader('content-type', rendered.contentType);
    res.setHeader(REPORT_SIGNATURE_HEADERS.keyId, rendered.signature.keyId);
    res.setHeader(REPORT_SIGNATURE_HEADERS.sha256, rendered.signature.sha256);
    res.setHeader(REPORT_SIGNATURE_HEADERS.signature, rendered.signature.signature);
    return rendered.body;
  }
}
