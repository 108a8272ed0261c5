import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsISO8601, IsObject, IsOptional, IsString, Length, Max, Min } from 'class-validator';

/** A batch of tenant documents, applied all-or-nothing. */
export class ApplyTenantsDto {
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'Tenant documents (apiVersion autoheal/v1); validated against the published JSON Schema' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsObject({ each: true })
  documents!: Record<string, unknown>[];

  @ApiPropertyOptional({ description: 'Who applies the change (recorded with the version and in policy_changed)' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  changedBy?: string;
}

export class VersionsQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'Page cursor: the `seq` of the last version of the previous page' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before?: number;
}

export class DiffQueryDto {
  @ApiProperty({ description: 'Version to compare from (sha256:…)' })
  @IsString()
  @Length(1, 200)
  from!: string;

  @ApiPropertyOptional({ description: 'Version to compare to; the current one when omitted' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  to?: string;
}

/** Who settles an approval, and why. */
export class ReviewDto {
  @ApiProperty({ example: 'alice@example.com' })
  @IsString()
  @Length(1, 200)
  who!: string;

  @ApiProperty({ example: 'checked the runbook; restart is safe' })
  @IsString()
  @Length(1, 1000)
  reason!: string;
}

export class BacktestDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The candidate tenant document' })
  @IsObject()
  document!: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Replay decisions taken from this time on (RFC 3339); default: 30 days ago' })
  @IsOptional()
  @IsISO8601({ strict: true })
  since?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 10000, default: 1000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  limit?: number;
}
