import type { Envelope } from '@autoheal/contracts';
import { PermanentError, StoreFailure, TransientError, type EventHandler, type JetStreamContext } from '@autoheal/messaging';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';
import type { AuditLogService } from './audit-log.service.js';

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

/**
 * JetStream entry for incident.>, remediation.>, compliance.> and security.>: the transport has
 * validated the envelope and its signature. Bound to the consumers directly (see
 * `TransportConsumerSpec.direct` in @autoheal/messaging), not through an `@EventPattern`: the
 * service queues each event for its append batch when called, so the order of calls — the
 * order of the stream's delivery — is the order of the rows. Nest's dispatch would put its own
 * promises in between. The consumer acks an event once its batch committed.
 */
export function auditEventHandler(audit: AuditLogService): EventHandler {
  return (event: Envelope, ctx: JetStreamContext) =>
    audit.recordEvent(event, { subject: ctx.subject }).then(
      () => undefined,
      (error: unknown) => {
        throw toDeliveryError(error);
      },
    );
}
