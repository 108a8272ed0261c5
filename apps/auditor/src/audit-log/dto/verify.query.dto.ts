import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

/** Query of GET /v1/tenants/{tenantId}/audit/verify. Unknown parameters are refused (400). */
export class VerifyQueryDto {
  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description:
      'Verify from the first row instead of after the last verified point (limited to AUDITOR_FULL_VERIFY_PER_HOUR per API key). The only check that exposes a rewrite of rows verified before.',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'full must be true or false' })
  full: boolean = false;
}
