import { BadRequestException, Catch, type ArgumentsHost, type ExceptionFilter, type HttpException } from '@nestjs/common';
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
      return new BadRequestException(body(400, 'Bad Request'));
    default: {
      const unreachable: never = error.code;
      throw new Error(`unmapped audit log error ${String(unreachable)}`);
    }
  }
}

interface JsonResponse {
  status(code: number): { json(body: unknown): void };
}

@Catch(AuditLogError)
export class AuditLogExceptionFilter implements ExceptionFilter<AuditLogError> {
  catch(error: AuditLogError, host: ArgumentsHost): void {
    const http = auditLogHttpException(error);
    host.switchToHttp().getResponse<JsonResponse>().status(http.getStatus()).json(http.getResponse());
  }
}
