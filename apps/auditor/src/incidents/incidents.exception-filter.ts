import { Catch, NotFoundException, type ArgumentsHost, type HttpException } from '@nestjs/common';
import { AuditLogExceptionFilter } from '../audit-log/audit-log.exception-filter.js';
import { IncidentsError, IncidentsErrorCode } from './incidents.errors.js';

export function incidentsHttpException(error: IncidentsError): HttpException {
  const body = (status: number, name: string) => ({
    statusCode: status,
    error: name,
    code: error.code,
    message: error.message,
    ...(error.field ? { fields: [{ field: error.field, messages: [error.message] }] } : {}),
  });
  switch (error.code) {
    case IncidentsErrorCode.IncidentNotFound:
      return new NotFoundException(body(404, 'Not Found'));
    default: {
      const unreachable: never = error.code;
      throw new Error(`unmapped incidents error ${String(unreachable)}`);
    }
  }
}

/** The incident views' error edge: their own codes, then the audit API's (cursor, time range, 429 held like any audit read). */
@Catch()
export class IncidentsExceptionFilter extends AuditLogExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost): void {
    if (error instanceof IncidentsError) return super.catch(incidentsHttpException(error), host);
    super.catch(error, host);
  }
}
