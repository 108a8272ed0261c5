import { ApiProperty } from '@nestjs/swagger';
import { INCIDENT_STATUSES, REMEDIATION_STATUSES } from '../incident-views.js';

const nullableString = (description: string, format?: string) => ({ type: String, nullable: true, description, ...(format ? { format } : {}) });

export class IncidentItemDto {
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ example: 'billing' }) service!: string;
  @ApiProperty({ description: 'The instance, or `*` for a service-level incident', example: 'billing-1' }) instance!: string;
  @ApiProperty({ example: 'heartbeat_missed' }) kind!: string;
  @ApiProperty({ enum: ['critical', 'major', 'minor'], description: 'As the incident opened' }) severity!: string;
  @ApiProperty({ enum: INCIDENT_STATUSES }) status!: string;
  @ApiProperty(nullableString('When the signal that proves the fault happened', 'date-time')) signalAt!: string | null;
  @ApiProperty({ format: 'date-time', description: 'incident.opened occurredAt' }) openedAt!: string;
  @ApiProperty(nullableString('incident.resolved occurredAt; null while open', 'date-time')) resolvedAt!: string | null;
  @ApiProperty(nullableString('Why it resolved')) resolveReason!: string | null;
}

export class IncidentPageDto {
  @ApiProperty({ type: [IncidentItemDto], description: 'Newest first' }) items!: IncidentItemDto[];
  @ApiProperty(nullableString('Pass as `cursor` for the next page; null on the last page')) nextCursor!: string | null;
}

export class TimelineEntryDto {
  @ApiProperty({ description: 'The row in the tenant audit trail' }) seq!: number;
  @ApiProperty({ format: 'uuid' }) eventId!: string;
  @ApiProperty({ example: 'remediation.started' }) eventType!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiProperty({ example: 'executor' }) actor!: string;
  @ApiProperty({ example: 'restart.start' }) action!: string;
  @ApiProperty({ enum: ['success', 'failure', 'refused', 'info'] }) outcome!: string;
  @ApiProperty(nullableString('The remediation the event belongs to', 'uuid')) remediationId!: string | null;
  @ApiProperty({ description: 'Milliseconds since the previous entry (0 for the first)' }) sincePreviousMs!: number;
  @ApiProperty({ description: 'Milliseconds since the incident opened' }) sinceOpenedMs!: number;
}

export class TimelineDto {
  @ApiProperty({ example: 'acme' }) tenantId!: string;
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ ...nullableString('From incident.opened (null when its opening is not in the trail)'), example: 'billing' }) service!: string | null;
  @ApiProperty(nullableString('From incident.opened')) instance!: string | null;
  @ApiProperty(nullableString('From incident.opened')) kind!: string | null;
  @ApiProperty({ enum: INCIDENT_STATUSES }) status!: string;
  @ApiProperty(nullableString('When the signal that proves the fault happened', 'date-time')) signalAt!: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'signalAt → opened, milliseconds (detection time)' }) detectionMs!: number | null;
  @ApiProperty({ format: 'date-time', description: 'incident.opened occurredAt (else the first entry)' }) openedAt!: string;
  @ApiProperty(nullableString('incident.resolved occurredAt', 'date-time')) resolvedAt!: string | null;
  @ApiProperty(nullableString('The first remediation.verified occurredAt', 'date-time')) verifiedAt!: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'opened → verified, milliseconds' }) openedToVerifiedMs!: number | null;
  @ApiProperty({ type: [TimelineEntryDto], description: 'Every recorded event of the incident, in the order it happened (occurredAt, then the order recorded)' })
  entries!: TimelineEntryDto[];
  @ApiProperty({ description: 'True when the incident has more rows than one timeline returns (the first recorded are shown)' }) truncated!: boolean;
}

export class RemediationItemDto {
  @ApiProperty({ format: 'uuid' }) remediationId!: string;
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ example: 'billing' }) service!: string;
  @ApiProperty({ example: 'billing-1' }) instance!: string;
  @ApiProperty({ type: String, nullable: true, example: 'restart', description: 'null for an escalation that named no action' }) action!: string | null;
  @ApiProperty({ enum: REMEDIATION_STATUSES, description: 'Its latest recorded event' }) status!: string;
  @ApiProperty({ enum: ['success', 'failure', 'refused', 'info'], description: 'The outcome of that latest event' }) outcome!: string;
  @ApiProperty({ format: 'date-time', description: 'Its first recorded event' }) startedAt!: string;
  @ApiProperty({ format: 'date-time', description: 'Its latest recorded event' }) updatedAt!: string;
}

export class RemediationPageDto {
  @ApiProperty({ type: [RemediationItemDto], description: 'Newest first' }) items!: RemediationItemDto[];
  @ApiProperty(nullableString('Pass as `cursor` for the next page; null on the last page')) nextCursor!: string | null;
}

export class PendingApprovalDto {
  @ApiProperty({ format: 'uuid' }) remediationId!: string;
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty() service!: string;
  @ApiProperty() instance!: string;
  @ApiProperty({ example: 'failover' }) action!: string;
  @ApiProperty({ format: 'date-time', description: 'When approval was requested' }) requestedAt!: string;
  @ApiProperty({ format: 'date-time', description: 'Unanswered by then, the request lapses' }) expiresAt!: string;
  @ApiProperty({ description: "The policy's reason" }) reason!: string;
  @ApiProperty() policyVersion!: string;
}

export class PendingApprovalPageDto {
  @ApiProperty({ type: [PendingApprovalDto], description: 'Newest first' }) items!: PendingApprovalDto[];
  @ApiProperty(nullableString('Pass as `cursor` for the next page; null on the last page')) nextCursor!: string | null;
}
