import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsRFC3339 } from 'class-validator';
import { REPORT_RENDERINGS, type ReportRendering } from '@autoheal/evidence';

/** Query of GET /v1/tenants/{tenantId}/reports/compliance. Unknown parameters are refused (400). */
export class ComplianceReportQueryDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the period, included (RFC 3339)', example: '2026-11-01T00:00:00Z' })
  @IsRFC3339({ message: 'from must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z' })
  from!: string;

  @ApiProperty({ format: 'date-time', description: 'End of the period, excluded (RFC 3339); after from', example: '2026-12-01T00:00:00Z' })
  @IsRFC3339({ message: 'to must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z' })
  to!: string;

  @ApiPropertyOptional({ enum: REPORT_RENDERINGS, default: 'json', description: 'json (canonical JSON), csv (RFC 4180, one line per figure and value) or html (one printable page)' })
  @IsOptional()
  @IsIn(REPORT_RENDERINGS)
  format: ReportRendering = 'json';
}
