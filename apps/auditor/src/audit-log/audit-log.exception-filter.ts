import { BadRequestException, Catch, HttpException, HttpStatus, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';
import { AuditReadRecorder } from './audit-read-recorder.js';
import { ANONYMOUS_ACTOR } from './read-records.js';

/** HTTP mapping of AuditLogError codes; anything else is left to Nest (500). */
export function auditLogHttpException(error: AuditLogError): HttpException {
  const body = (status: number, name: string) => ({
    statusCode: status,
    error: name,
    code: error.code,
    message: error.message,
    ...(error.field ? { fields: [{ field: error.field, messages: [error.message] }] } : {}),
  });
  switch (error.code) {
    case AuditLogErrorCode.InvalidCursor:
    case AuditLogErrorCode.InvalidTimeRange:
    case AuditLogErrorCode.UnstorableEvent:
      return new BadRequestException(body(400, 'Bad Request'));
    case AuditLogErrorCode.RateLimited:
      return new HttpException(
        { ...body(429, 'Too Many Requests'), limit: error.limit?.limit, retryAfterSeconds: retryAfterSeconds(error) },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    default: {
      const unreachable: never = error.code;
      throw new Error(`unmapped audit log error ${String(unreachable)}`);
    }
  }
}

function retryAfterSeconds(error: AuditLogError): number {
  return Math.max(1, Math.ceil((error.limit?.retryAfterMs ?? 1000) / 1000));
}

interface TenantRequest {
  method: string;
  originalUrl: string;
  ip?: string;
  params?: Record<string, string | undefined>;
}

interface HeaderSink {
  setHeader(name: string, value: string): void;
}

/** Refusals before a principal is known: counted in the tenant's trail, aggregated (anonymous actor). */
const UNAUTHENTICATED_REFUSALS: ReadonlySet<number> = new Set([HttpStatus.UNAUTHORIZED, HttpStatus.FORBIDDEN]);

/**
 * The audit API's error edge: AuditLogError codes mapped to their status (429 with Retry-After),
 * and 401/403 answers of the key guard counted in the requested tenant's trail — aggregated per
 * window like reads, so a flood of forged keys adds one row, and none to a tenant without a chain.
 * Everything else is answered as Nest would.
 */
@Catch()
export class AuditLogExceptionFilter extends BaseExceptionFilter {
  constructor(private readonly reads: AuditReadRecorder) {
    super();
  }

  override catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    if (error instanceof AuditLogError) {
      if (error.code === AuditLogErrorCode.RateLimited) http.getResponse<HeaderSink>().setHeader('Retry-After', String(retryAfterSeconds(error)));
      return super.catch(auditLogHttpException(error), host);
    }
    if (error instanceof HttpException && UNAUTHENTICATED_REFUSALS.has(error.getStatus())) {
      const req = http.getRequest<TenantRequest>();
      const tenantId = req.params?.tenantId;
      // The path is not validated yet (the guard runs first): only a well-formed tenant id is counted.
      if (tenantId !== undefined && SUBJECT_TOKEN_PATTERN.test(tenantId)) {
        this.reads.note({
          tenantId,
          actor: ANONYMOUS_ACTOR,
          outcome: 'refused',
          kind: null,
          status: error.getStatus(),
          source: `${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip ?? 'unknown'}`,
        });
      }
    }
    super.catch(error, host);
  }
}
