import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CONTROLS, FIGURE_NAMES } from '../compliance-report.js';

export class EvidenceDto {
  @ApiProperty({ description: 'Audit rows the figure was computed from' }) rows!: number;
  @ApiProperty({ type: Number, nullable: true }) firstSeq!: number | null;
  @ApiProperty({ type: Number, nullable: true }) lastSeq!: number | null;
  @ApiProperty({ type: [Number], nullable: true, description: 'Every seq, ascending, when there are at most 100; null past it' }) seqs!: number[] | null;
  @ApiProperty({ type: [String], description: 'Audit API pages starting at the first evidence row of each event type (`GET /v1/tenants/{tenant}/audit?type=…&cursor=…`)' })
  links!: string[];
}

export class FigureDto {
  @ApiProperty({ description: 'A service, or `*` for the tenant as a whole (policy changes, a breach that names no service)' }) service!: string;
  @ApiProperty({ enum: FIGURE_NAMES }) name!: string;
  @ApiProperty({ description: 'What the figure is of: `restart/automatic/verified` (actions), a rule (refusals, breaches), an action (approvals), a version (policy changes); empty when one per service' })
  key!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }], nullable: true },
    description: "The figure's values; the auditor's README defines each",
  })
  values!: Record<string, number | string | boolean | null>;
  @ApiProperty({ type: [String], enum: Object.keys(CONTROLS) }) controls!: string[];
  @ApiProperty({ type: EvidenceDto }) evidence!: EvidenceDto;
}

export class ThresholdsInForceDto {
  @ApiProperty() policyVersion!: string;
  @ApiProperty() availabilityTarget!: number;
  @ApiProperty() maxTimeToRemediateMs!: number;
  @ApiProperty({ description: 'The compliance.policy_changed row they come from' }) seq!: number;
}

export class ComplianceReportDto {
  @ApiProperty({ example: 'autoheal.compliance-report.v1' }) format!: string;
  @ApiProperty() tenantId!: string;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ description: "The chain's head when generated: later rows are not part of the report" }) throughSeq!: number;
  @ApiProperty({ format: 'date-time' }) generatedAt!: string;
  @ApiPropertyOptional({ type: ThresholdsInForceDto, nullable: true, description: 'The measured thresholds in force at the end of the period; null when no policy change in the trail carried them' })
  thresholds!: ThresholdsInForceDto | null;
  @ApiProperty({ type: [String] }) services!: string[];
  @ApiProperty({ type: [FigureDto] }) figures!: FigureDto[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'Each control id used, with what it asks for' }) controls!: Record<string, string>;
}
