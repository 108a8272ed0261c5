import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { IngestError, IngestErrorCode } from './ingest.errors.js';

export interface IngestHttpError {
  status: number;
  headers: Record<string, string>;
  body: { statusCode: number; error: string; code: IngestErrorCode; message: string; violations?: unknown[] };
}

/** HTTP mapping of every ingest error code; a new code that is not mapped does not compile. */
export function ingestHttpError(error: IngestError): IngestHttpError {
  const make = (status: number, name: string, headers: Record<string, string> = {}): IngestHttpError => ({
    status,
    headers,
    body: {
      statusCode: status,
      error: name,
      code: error.code,
      message: error.message,
      ...(error.details.violations ? { violations: error.details.violations } : {}),
    },
  });
  switch (error.code) {
    case IngestErrorCode.MissingApiKey:
    case IngestErrorCode.InvalidApiKey:
      return make(401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer realm="autoheal-ingest"' });
    case IngestErrorCode.PayloadTooLarge:
      return make(413, 'Payload Too Large');
    case IngestErrorCode.TooDeep:
    case IngestErrorCode.MalformedJson:
    case IngestErrorCode.InvalidEvent:
      return make(400, 'Bad Request');
    case IngestErrorCode.InstanceQuotaExceeded:
      // Not a rate: retrying soon changes nothing until instances of the tenant go away.
      return make(422, 'Unprocessable Entity');
    case IngestErrorCode.RateLimited:
      return make(429, 'Too Many Requests', { 'Retry-After': String(error.details.retryAfterSeconds ?? 1) });
    case IngestErrorCode.Unavailable:
      return make(503, 'Service Unavailable', { 'Retry-After': '1' });
    default: {
      const unreachable: never = error.code;
      throw new Error(`unmapped ingest error ${String(unreachable)}`);
    }
  }
}

export interface JsonResponse {
  setHeader(name: string, value: string): void;
  status(code: number): { json(body: unknown): void };
}

export function sendIngestError(res: JsonResponse, error: IngestError): void {
  const http = ingestHttpError(error);
  for (const [name, value] of Object.entries(http.headers)) res.setHeader(name, value);
  res.status(http.status).json(http.body);
}

@Catch(IngestError)
export class IngestExceptionFilter implements ExceptionFilter<IngestError> {
  catch(error: IngestError, host: ArgumentsHost): void {
    sendIngestError(host.switchToHttp().getResponse<JsonResponse>(), error);
  }
}
