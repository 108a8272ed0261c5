import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsRFC3339, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** Query of GET /v1/tenants/{tenantId}/audit. Unknown parameters are refused (400). */
export class ListAuditQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: 'Rows per page' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit: number = DEFAULT_PAGE_SIZE;

  @ApiPropertyOptional({ description: 'Opaque cursor: the `nextCursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({
    description: 'Exact event type (`remediation.succeeded`) or a prefix ending in a dot (`remediation.`). Reads of the log are `audit.read`.',
    example: 'remediation.',
  })
  @IsOptional()
  @Matches(/^[a-z_]+(\.[a-z_]*)?$/, { message: 'type must be an event type (incident.opened) or a prefix ending in a dot (incident.)' })
  type?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'occurred_at at or after this instant (RFC 3339)' })
  @IsOptional()
  @IsRFC3339()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'occurred_at before this instant (RFC 3339)' })
  @IsOptional()
  @IsRFC3339()
  to?: string;

  @ApiPropertyOptional({ description: 'Only rows of this correlation id (the incident id)' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[\x20-\u{10FFFF}]+$/u, { message: 'correlationId must not contain control characters' })
  correlationId?: string;
}
