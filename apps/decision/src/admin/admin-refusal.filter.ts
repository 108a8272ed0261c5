import { Catch, ForbiddenException, UnauthorizedException, type ArgumentsHost, type ExceptionFilter, type HttpException } from '@nestjs/common';
import type { Principal } from '@autoheal/access';
import { AdminRefusals } from './admin-refusals.js';

interface RefusedRequest {
  ip?: string;
  principal?: Principal;
}

interface JsonResponse {
  status(code: number): { json(body: unknown): void };
}

/**
 * Every 401 and 403 of the admin API — the guard's and the services' (a remediation of a tenant
 * outside the scope) — is counted once here, against the credential when one was authenticated,
 * else the remote address; then answered as Nest would.
 */
@Catch(UnauthorizedException, ForbiddenException)
export class AdminRefusalFilter implements ExceptionFilter<HttpException> {
  constructor(private readonly refusals: AdminRefusals) {}

  catch(exception: HttpException, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<RefusedRequest>();
    const body = exception.getResponse();
    const code = typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string' ? (body as { code: string }).code : 'forbidden';
    this.refusals.refused({ origin: req.principal?.id ?? `address ${req.ip ?? 'unknown'}`, code, status: exception.getStatus() });
    http.getResponse<JsonResponse>().status(exception.getStatus()).json(body);
  }
}
