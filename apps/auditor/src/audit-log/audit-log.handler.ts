import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Envelope } from '@autoheal/contracts';
import { JetStreamContext, PermanentError, StoreFailure, TransientError } from '@autoheal/messaging';
import { COMPLIANCE_AUDIT_CONSUMER, INCIDENTS_AUDIT_CONSUMER, REMEDIATIONS_AUDIT_CONSUMER, SECURITY_AUDIT_CONSUMER } from './audit-log.consumers.js';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';
import { AuditLogService } from './audit-log.service.js';

/** JetStream mapping: our codes to term (permanent) or retry; a database error is judged by its SQLSTATE (content the store refuses is permanent, an outage is retried). */
function toDeliveryError(error: unknown): Error {
  if (!(error instanceof AuditLogError)) return new StoreFailure('audit_store_unavailable', error);
  switch (error.code) {
    case AuditLogErrorCode.UnstorableEvent:
    case AuditLogErrorCode.InvalidCursor:
    case AuditLogErrorCode.InvalidTimeRange:
    case AuditLogErrorCode.NoChain:
    case AuditLogErrorCode.ExportTooLarge:
      // Reads' codes: recording never raises them.
      return new PermanentError(error.code, error.message);
    case AuditLogErrorCode.RateLimited:
      // A read limit; recording an event is never limited, but a retry is the safe answer.
      return new TransientError(error.code, error.message);
    default: {
      const unreachable: never = error.code;
      return new TransientError('unmapped_error', String(unreachable));
    }
  }
}

/** JetStream entry for incident.>, remediation.>, compliance.> and security.>: the transport has validated the envelope and its signature. */
@Controller()
export class AuditLogHandler {
  constructor(private readonly audit: AuditLogService) {}

  @EventPattern(INCIDENTS_AUDIT_CONSUMER.durable)
  onIncidentEvent(@Payload() event: Envelope, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.record(event, ctx);
  }

  @EventPattern(REMEDIATIONS_AUDIT_CONSUMER.durable)
  onRemediationEvent(@Payload() event: Envelope, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.record(event, ctx);
  }

  @EventPattern(COMPLIANCE_AUDIT_CONSUMER.durable)
  onComplianceEvent(@Payload() event: Envelope, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.record(event, ctx);
  }

  @EventPattern(SECURITY_AUDIT_CONSUMER.durable)
  onSecurityEvent(@Payload() event: Envelope, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.record(event, ctx);
  }

  private async record(event: Envelope, ctx: JetStreamContext): Promise<void> {
    try {
      await this.audit.recordEvent(event, { consumer: ctx.durable, subject: ctx.subject });
    } catch (error) {
      throw toDeliveryError(error);
    }
  }
}
