import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsRFC3339, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { SUBJECT_TOKEN_PATTERN, incidentKind, remediationAction } from '@autoheal/contracts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../audit-log/dto/list-audit.query.dto.js';
import { TenantParamsDto } from '../../audit-log/dto/tenant.params.dto.js';
import { INCIDENT_STATUSES, REMEDIATION_STATUSES, type IncidentStatus, type RemediationStatus } from '../incident-views.js';

/** limit and cursor, as the audit list takes them. Unknown parameters are refused (400). */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: 'Items per page' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit: number = DEFAULT_PAGE_SIZE;

  @ApiPropertyOptional({ description: 'Opaque cursor: the `nextCursor` of the previous page (with the same filters)' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

/** A time range [from, to) on when it began (RFC 3339). */
export class RangedPageQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Began at or after this instant (RFC 3339)' })
  @IsOptional()
  @IsRFC3339()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Began before this instant (RFC 3339)' })
  @IsOptional()
  @IsRFC3339()
  to?: string;
}

const TOKEN_MESSAGE = (field: string) => `${field} must be 1-64 characters of A-Z a-z 0-9 _ -`;

export class ListIncidentsQueryDto extends RangedPageQueryDto {
  @ApiPropertyOptional({ enum: INCIDENT_STATUSES, description: 'open: no incident.resolved recorded; resolved: one was' })
  @IsOptional()
  @IsIn(INCIDENT_STATUSES)
  status?: IncidentStatus;

  @ApiPropertyOptional({ enum: incidentKind.options })
  @IsOptional()
  @IsIn(incidentKind.options)
  kind?: string;

  @ApiPropertyOptional({ pattern: SUBJECT_TOKEN_PATTERN.source, example: 'billing' })
  @IsOptional()
  @Matches(SUBJECT_TOKEN_PATTERN, { message: TOKEN_MESSAGE('service') })
  service?: string;

  @ApiPropertyOptional({ description: 'An instance, or `*` for service-level incidents', example: 'billing-1' })
  @IsOptional()
  @Matches(/^(\*|[A-Za-z0-9_-]{1,64})$/, { message: 'instance must be 1-64 characters of A-Z a-z 0-9 _ - or *' })
  instance?: string;
}

export class ListRemediationsQueryDto extends RangedPageQueryDto {
  @ApiPropertyOptional({ enum: remediationAction.options })
  @IsOptional()
  @IsIn(remediationAction.options)
  action?: string;

  @ApiPropertyOptional({ enum: REMEDIATION_STATUSES, description: 'Where the remediation stands: its latest recorded event (`executed`: the driver reported success, not yet verified)' })
  @IsOptional()
  @IsIn(REMEDIATION_STATUSES)
  status?: RemediationStatus;

  @ApiPropertyOptional({ pattern: SUBJECT_TOKEN_PATTERN.source, example: 'billing' })
  @IsOptional()
  @Matches(SUBJECT_TOKEN_PATTERN, { message: TOKEN_MESSAGE('service') })
  service?: string;
}

export class IncidentParamsDto extends TenantParamsDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'incidentId must be a UUID' })
  incidentId!: string;
}
