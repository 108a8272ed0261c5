import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, Equals, IsArray, IsInt, IsISO8601, IsObject, IsOptional, IsString, Length, Max, Min, ValidateIf } from 'class-validator';

/**
 * Refuses a body field that used to name the actor: the actor is the credential's, and an old
 * client sending the field learns so (400 naming the field) instead of having it ignored.
 */
function ActorFieldRefused(field: string): PropertyDecorator {
  const validateIf = ValidateIf((_o, value) => value !== undefined);
  const equals = Equals(undefined, { message: `${field} is not accepted: the actor is the authenticated credential's subject` });
  return (target, key) => {
    validateIf(target, key);
    equals(target, key);
  };
}

/** A batch of tenant documents, applied all-or-nothing. */
export class ApplyTenantsDto {
  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'Tenant documents (apiVersion autoheal/v1); validated against the published JSON Schema' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsObject({ each: true })
  documents!: Record<string, unknown>[];

  /** No longer accepted: who applies the change is the credential's subject. */
  @ActorFieldRefused('changedBy')
  changedBy?: never;
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

/** Why an approval is settled (who settles it is the credential's subject). */
export class ReviewDto {
  /** No longer accepted: who acts is the credential's subject. */
  @ActorFieldRefused('who')
  who?: never;

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
