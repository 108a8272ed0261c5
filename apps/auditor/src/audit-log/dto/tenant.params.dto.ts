import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';

export class TenantParamsDto {
  @ApiProperty({ pattern: SUBJECT_TOKEN_PATTERN.source, example: 'acme' })
  @Matches(SUBJECT_TOKEN_PATTERN, { message: 'tenantId must be 1-64 characters of A-Z a-z 0-9 _ -' })
  tenantId!: string;
}
