import {
  ForbiddenException,
  Injectable,
  SetMetadata,
  UnauthorizedException,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
  type HttpException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AccessErrorCode, isAuthenticationFailure, type Permission } from '@autoheal/access';
import { AccessRefusals } from './access-refusals.service.js';
import type { ApiKeyPrincipal } from './api-key.js';
import { ApiKeyAuthService } from './api-key-auth.service.js';

/** The parts of an Express request the guard reads and writes. */
interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string | undefined>;
  ip?: string;
  apiKey?: ApiKeyPrincipal;
}

interface HeaderSink {
  setHeader(name: string, value: string): void;
}

interface Requirement {
  permission: Permission;
  /** The permission must hold over every tenant (scope `*`), e.g. managing keys. */
  everyTenant?: boolean;
}

const REQUIREMENT = 'autoheal:access-requirement';

/** What a route needs; without it, `read` (on the route's :tenantId when it has one). */
export const RequirePermission = (permission: Permission, options: { everyTenant?: boolean } = {}) => SetMetadata(REQUIREMENT, { permission, ...options } satisfies Requirement);

/** The wire codes of the auditor's API (kept from before people's keys, so clients see the same codes). */
function toHttpException(code: AccessErrorCode): HttpException {
  switch (code) {
    case AccessErrorCode.MissingCredential:
      return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', code: 'missing_api_key', message: 'a credential is required: Authorization: Bearer <API key or OIDC token>' });
    case AccessErrorCode.InvalidCredential:
      return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', code: 'unknown_api_key', message: 'the credential is unknown, revoked, expired or invalid' });
    case AccessErrorCode.TenantForbidden:
      return new ForbiddenException({ statusCode: 403, error: 'Forbidden', code: 'tenant_forbidden', message: 'this credential may not act on this tenant' });
    case AccessErrorCode.RoleForbidden:
      return new ForbiddenException({ statusCode: 403, error: 'Forbidden', code: 'role_forbidden', message: "this credential's roles do not allow this" });
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped access error ${String(unreachable)}`);
    }
  }
}

/**
 * Authenticates the bearer (API key or OIDC token) and checks the route's permission and, for
 * routes under /v1/tenants/:tenantId, the tenant scope: none or unknown → 401, authenticated but
 * not allowed → 403. Every refusal is counted and audited, aggregated (AccessRefusals).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly auth: ApiKeyAuthService,
    private readonly refusals: AccessRefusals,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<GuardedRequest>();
    const requirement = this.reflector.getAllAndOverride<Requirement | undefined>(REQUIREMENT, [context.getHandler(), context.getClass()]) ?? { permission: 'read' };
    const result = await this.auth.authorize(req.headers.authorization, requirement.permission, { tenantId: req.params.tenantId, everyTenant: requirement.everyTenant });
    if (!result.ok) {
      const unauthenticated = isAuthenticationFailure(result.code);
      this.refusals.refused({ origin: result.principal?.id ?? `address ${req.ip ?? 'unknown'}`, code: result.code, status: unauthenticated ? 401 : 403 });
      if (unauthenticated) http.getResponse<HeaderSink>().setHeader('WWW-Authenticate', 'Bearer realm="autoheal-auditor"');
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
