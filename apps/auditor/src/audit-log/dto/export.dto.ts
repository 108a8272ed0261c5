import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsRFC3339 } from 'class-validator';

/** Query of GET /v1/tenants/{tenantId}/audit/export. Unknown parameters are refused (400). */
export class ExportQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'rows recorded (recorded_at) at or after this instant (RFC 3339); absent: from the first row' })
  @IsOptional()
  @IsRFC3339()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'rows recorded before this instant; absent: up to the chain’s head' })
  @IsOptional()
  @IsRFC3339()
  to?: string;
}

export class ExportBundleDto {
  @ApiProperty({
    description:
      'The bundle’s files by name (manifest.json, rows.jsonl, seals.jsonl, checkpoints.jsonl, keys.json), each as text: write each into one directory, then `autoheal audit verify-bundle <dir>`',
    additionalProperties: { type: 'string' },
  })
  files!: Record<string, string>;
}
