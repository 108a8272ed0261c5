import { BadRequestException, Catch, HttpException, HttpStatus, NotFoundException, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { RefusalHold } from '@autoheal/http';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';

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
    case AuditLogErrorCode.ExportTooLarge:
      return new BadRequestException(body(400, 'Bad Request'));
    case AuditLogErrorCode.NoChain:
      return new NotFoundException(body(404, 'Not Found'));
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

interface HeaderSink {
  setHeader(name: string, value: string): void;
}

/**
 * The audit API's error edge: AuditLogError codes mapped to their status (429 with Retry-After).
 * Everything else is answered as Nest would. Refused credentials (401/403) are recorded by the
 * API-key guard in the `@system` trail (api-keys/access-refusals.service.ts), never in the trail
 * of the tenant the request names: that name is the caller's claim, and one tenant must not be
 * able to write rows into another's trail.
 */
@Catch()
export class AuditLogExceptionFilter extends BaseExceptionFilter {
  /** 429s held until their Retry-After (at most 1 s, at most 16 at once per API key): libs/http RefusalHold. */
  private readonly refusals = new RefusalHold();

  override catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    if (error instanceof AuditLogError) {
      if (error.code !== AuditLogErrorCode.RateLimited) return super.catch(auditLogHttpException(error), host);
      // A key over its read limit that retries at once was answered as fast as we could refuse
      // (1.5 ms of auditor CPU each, taken from every other tenant's reads); held, each of its
      // connections gets about one answer a second. Past the bound: at once, and the connection closed.
      const res = http.getResponse<HeaderSink>();
      res.setHeader('Retry-After', String(retryAfterSeconds(error)));
      const key = http.getRequest<{ apiKey?: { id: string } }>().apiKey?.id ?? 'unknown';
      this.refusals.hold(key, retryAfterSeconds(error) * 1_000, (held) => {
        if (!held) res.setHeader('Connection', 'close');
        super.catch(auditLogHttpException(error), host);
      });
      return;
    }
    super.catch(error, host);
  }
}
