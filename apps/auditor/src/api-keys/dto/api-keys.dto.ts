import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsOptional, IsRFC3339, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
import { ROLES, type Role } from '@autoheal/access';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import type { ApiKeyRow } from '../api-keys.repository.js';

export class CreateApiKeyDto {
  @ApiProperty({ description: 'The person the key belongs to (name or email); recorded as the actor of what the key does', example: 'alice@example.com' })
  @IsString()
  @Length(1, 200)
  subject!: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['approver'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(ROLES.length)
  @IsIn(ROLES, { each: true, message: `each role must be one of ${ROLES.join(', ')}` })
  roles!: Role[];

  @ApiProperty({ oneOf: [{ type: 'string', enum: ['*'] }, { type: 'array', items: { type: 'string' } }], description: "'*' (every tenant) or a list of tenant ids", example: ['acme'] })
  @ValidateIf((_o, v) => v !== '*')
  @IsArray({ message: "tenantScope must be '*' or a list of tenant ids" })
  @ArrayMinSize(1, { message: "tenantScope must be '*' or a non-empty list of tenant ids" })
  @ArrayMaxSize(1000)
  @Matches(SUBJECT_TOKEN_PATTERN, { each: true, message: 'tenantScope must hold tenant ids of 1-64 A-Z a-z 0-9 _ -' })
  tenantScope!: '*' | string[];

  @ApiPropertyOptional({ format: 'date-time', description: 'When the key stops working (RFC 3339); never when omitted' })
  @IsOptional()
  @IsRFC3339()
  expiresAt?: string;

  @ApiPropertyOptional({ description: 'A note for whoever lists keys', example: 'on-call laptop' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  label?: string;
}

export class ExpireApiKeyDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'When the key stops working (RFC 3339, not in the past, not after its current expiry); now when omitted' })
  @IsOptional()
  @IsRFC3339()
  at?: string;
}

export class ListApiKeysQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 100;

  @ApiPropertyOptional({ description: 'Page cursor: the `next` of the previous page' })
  @IsOptional()
  @Matches(/^ak_[0-9a-f]{16}$/, { message: 'after must be a key id (ak_ and 16 hex digits)' })
  after?: string;
}

export class ApiKeyIdParamsDto {
  @ApiProperty({ example: 'ak_0123456789abcdef' })
  @Matches(/^ak_[0-9a-f]{16}$/, { message: 'id must be a key id (ak_ and 16 hex digits)' })
  id!: string;
}

/** A key as listed: never its secret nor its hash. */
export class ApiKeyDto {
  @ApiProperty({ example: 'ak_0123456789abcdef' }) id!: string;
  @ApiProperty({ example: 'alice@example.com' }) subject!: string;
  @ApiProperty({ enum: ROLES, isArray: true }) roles!: Role[];
  @ApiProperty({ oneOf: [{ type: 'string', enum: ['*'] }, { type: 'array', items: { type: 'string' } }] }) tenantScope!: '*' | string[];
  @ApiProperty() label!: string;
  @ApiProperty({ enum: ['env', 'cli', 'api'] }) origin!: string;
  @ApiProperty() createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expiresAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revokedAt!: string | null;

  static from(row: ApiKeyRow): ApiKeyDto {
    return {
      id: row.id,
      subject: row.subject,
      roles: row.roles,
      tenantScope: row.tenantScope === '*' ? '*' : [...row.tenantScope],
      label: row.label,
      origin: row.origin,
      createdBy: row.createdBy,
      createdAt: row.createdAt.toISOString(),
      expiresAt: row.expiresAt?.toISOString() ?? null,
      revokedAt: row.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The secret: shown this once, never stored (only its sha256 is)', example: 'ahk_…' }) key!: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] }) items!: ApiKeyDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Cursor of the next page (`after`); null on the last page' }) next!: string | null;
}
