import { Controller, Get, Param, Query, Req, UseFilters, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { ApiKeyPrincipal } from '../api-keys/api-key.js';
import { ApiKeyGuard, CurrentApiKey } from '../api-keys/api-key.guard.js';
import { callerOf, type RequestOrigin } from '../audit-log/api-caller.js';
import { ErrorResponseDto } from '../audit-log/dto/error-response.dto.js';
import { TenantParamsDto } from '../audit-log/dto/tenant.params.dto.js';
import { IncidentPageDto, PendingApprovalPageDto, RemediationPageDto, TimelineDto } from './dto/incident-views.dto.js';
import { IncidentParamsDto, ListIncidentsQueryDto, ListRemediationsQueryDto, PageQueryDto } from './dto/incidents.query.dto.js';
import { IncidentsExceptionFilter } from './incidents.exception-filter.js';
import { IncidentsService } from './incidents.service.js';

const READ_NOTE = "Read from the tenant's audit trail, on the same terms as a page of it: any role with the tenant in scope, 1 token of the key's read budget, counted in the key's `audit.read` row.";

@ApiTags('incidents')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No credential, or an unknown or revoked one', type: ErrorResponseDto })
@ApiForbiddenResponse({ description: 'A credential without the tenant in its scope (the same answer whether or not the tenant exists)', type: ErrorResponseDto })
@ApiBadRequestResponse({ description: 'Invalid tenant id, query parameter or cursor; the message names the field', type: ErrorResponseDto })
@ApiTooManyRequestsResponse({ description: 'The credential spent its read budget (`code: rate_limited`; header Retry-After)', type: ErrorResponseDto })
@UseGuards(ApiKeyGuard)
@UseFilters(IncidentsExceptionFilter)
@Controller('v1/tenants/:tenantId')
export class IncidentsController {
  constructor(private readonly incidents: IncidentsService) {}

  @Get('incidents')
  @ApiOperation({ summary: "The tenant's incidents, newest first", description: READ_NOTE })
  @ApiOkResponse({ type: IncidentPageDto })
  list(@Param() params: TenantParamsDto, @Query() query: ListIncidentsQueryDto, @CurrentApiKey() principal: ApiKeyPrincipal, @Req() req: RequestOrigin): Promise<IncidentPageDto> {
    return this.incidents.incidents(params.tenantId, query, callerOf(principal, params.tenantId, req));
  }

  @Get('incidents/:incidentId/timeline')
  @ApiOperation({
    summary: "Every recorded event of an incident, from its first signal to verification, with the time between them",
    description: `${READ_NOTE} 404 when the tenant's trail holds no event of the incident.`,
  })
  @ApiOkResponse({ type: TimelineDto })
  @ApiNotFoundResponse({ description: 'No event of this incident in the tenant trail (`code: incident_not_found`)', type: ErrorResponseDto })
  timeline(@Param() params: IncidentParamsDto, @CurrentApiKey() principal: ApiKeyPrincipal, @Req() req: RequestOrigin): Promise<TimelineDto> {
    return this.incidents.timeline(params.tenantId, params.incidentId, callerOf(principal, params.tenantId, req));
  }

  @Get('remediations')
  @ApiOperation({ summary: "The tenant's remediations, newest first, each with its status (its latest recorded event)", description: READ_NOTE })
  @ApiOkResponse({ type: RemediationPageDto })
  remediations(
    @Param() params: TenantParamsDto,
    @Query() query: ListRemediationsQueryDto,
    @CurrentApiKey() principal: ApiKeyPrincipal,
    @Req() req: RequestOrigin,
  ): Promise<RemediationPageDto> {
    return this.incidents.remediations(params.tenantId, query, callerOf(principal, params.tenantId, req));
  }

  @Get('approvals/pending')
  @ApiOperation({
    summary: 'Remediations awaiting approval: requested, neither approved nor rejected since, and not expired',
    description: READ_NOTE,
  })
  @ApiOkResponse({ type: PendingApprovalPageDto })
  pendingApprovals(@Param() params: TenantParamsDto, @Query() query: PageQueryDto, @CurrentApiKey() principal: ApiKeyPrincipal, @Req() req: RequestOrigin): Promise<PendingApprovalPageDto> {
    return this.incidents.pendingApprovals(params.tenantId, query, callerOf(principal, params.tenantId, req));
  }
}
