import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class FieldErrorDto {
  @ApiProperty({ example: 'limit' }) field!: string;
  @ApiProperty({ type: [String], example: ['limit must be an integer number'] }) messages!: string[];
}

/** Every 4xx of the /v1 API. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'Bad Request' }) error!: string;
  @ApiProperty({ description: 'Machine-readable reason', example: 'invalid_request' }) code!: string;
  @ApiProperty({ example: 'limit must be an integer number' }) message!: string;
  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'For invalid requests: each offending field' }) fields?: FieldErrorDto[];
  @ApiPropertyOptional({ enum: ['reads', 'full_verify'], description: 'For 429: the limit the API key reached' }) limit?: string;
  @ApiPropertyOptional({ description: 'For 429: seconds before a retry can pass (also in the Retry-After header)' }) retryAfterSeconds?: number;
}
