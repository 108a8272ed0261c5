import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ChainedRow } from '../hash-chain.js';

export class AuditItemDto {
  @ApiProperty({ example: 'acme' }) tenantId!: string;
  @ApiProperty({ description: 'Position in the tenant chain, from 1', example: 42 }) seq!: number;
  @ApiProperty({ description: 'Id of the event recorded (unique)', format: 'uuid' }) eventId!: string;
  @ApiProperty({ example: 'remediation.succeeded' }) eventType!: string;
  @ApiProperty({ format: 'date-time', description: 'When it happened (the event time)' }) occurredAt!: string;
  @ApiProperty({ format: 'date-time', description: 'When the auditor recorded it' }) recordedAt!: string;
  @ApiProperty({ description: 'Who: the producing service, the approving person, or the API key id', example: 'executor' }) actor!: string;
  @ApiProperty({ description: 'What was done', example: 'restart.execute' }) action!: string;
  @ApiProperty({ enum: ['success', 'failure', 'refused', 'info'] }) outcome!: string;
  @ApiProperty({
    description: 'Which resource: service, instance, incidentId, remediationId (those that apply)',
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { service: 'billing', instance: 'billing-1', incidentId: '0190…' },
  })
  resource!: Record<string, unknown>;
  @ApiProperty({ description: 'Where: the NATS subject it arrived on, or the HTTP request', example: 'remediation.acme.succeeded' }) source!: string;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'The incident id once there is one' }) correlationId!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'The event that caused this one' }) causationId!: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'OpenTelemetry trace id of the recording' }) traceId!: string | null;
  @ApiProperty({ description: 'The full event envelope, or for audit.read/audit.verify the request', type: 'object', additionalProperties: true })
  payload!: unknown;
  @ApiProperty({ description: 'hash of the previous row (64 zeros for seq 1)', pattern: '^[0-9a-f]{64}$' }) prevHash!: string;
  @ApiProperty({ description: 'sha256 over the canonical encoding of this row', pattern: '^[0-9a-f]{64}$' }) hash!: string;

  static from(row: ChainedRow): AuditItemDto {
    return Object.assign(new AuditItemDto(), row);
  }
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditItemDto] }) items!: AuditItemDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' }) nextCursor!: string | null;
}
