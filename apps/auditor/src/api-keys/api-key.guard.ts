import { ForbiddenException, Injectable, UnauthorizedException, createParamDecorator, type CanActivate, type ExecutionContext, type HttpException } from '@nestjs/common';
import type { ApiKeyPrincipal } from './api-key.js';
import { ApiKeyErrorCode } from './api-keys.errors.js';
import { ApiKeysService } from './api-keys.service.js';

/** The parts of an Express request the guard reads and writes. */
interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string | undefined>;
  apiKey?: ApiKeyPrincipal;
}

interface HeaderSink {
  setHeader(name: string, value: string): void;
}

function toHttpException(code: ApiKeyErrorCode): HttpException {
  switch (code) {
    case ApiKeyErrorCode.MissingApiKey:
      return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', code, message: 'an API key is required: Authorization: Bearer <key>' });
    case ApiKeyErrorCode.UnknownApiKey:
      return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', code, message: 'the API key is unknown or revoked' });
    case ApiKeyErrorCode.TenantForbidden:
      return new ForbiddenException({ statusCode: 403, error: 'Forbidden', code, message: "this API key may not read this tenant's audit log" });
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped API key error ${String(unreachable)}`);
    }
  }
}

/**
 * Routes under /v1/tenants/:tenantId need a Bearer API key that may read that tenant:
 * none or unknown → 401, a tenant key for another tenant → 403.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly keys: ApiKeysService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<GuardedRequest>();
    const tenantId = req.params.tenantId ?? '';
    const result = await this.keys.authorize(req.headers.authorization, tenantId);
    if (!result.ok) {
      if (result.code !== ApiKeyErrorCode.TenantForbidden) http.getResponse<HeaderSink>().setHeader('WWW-Authenticate', 'Bearer realm="autoheal-auditor"');
      throw toHttpException(result.code);
    }
    req.apiKey = result.principal;
    return true;
  }
}

/** The principal the guard authenticated. */
export const CurrentApiKey = createParamDecorator((_data: unknown, context: ExecutionContext): ApiKeyPrincipal => {
  const principal = context.switchToHttp().getRequest<GuardedRequest>().apiKey;
  if (!principal) throw new Error('CurrentApiKey used on a route without ApiKeyGuard');
  return principal;
});
