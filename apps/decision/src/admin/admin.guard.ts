import { ForbiddenException, Injectable, SetMetadata, UnauthorizedException, createParamDecorator, type CanActivate, type ExecutionContext, type HttpException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AccessErrorCode, authorizationError, type Permission, type Principal } from '@autoheal/access';
import { AdminAuthService } from './admin-auth.service.js';

interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string | undefined>;
  ip?: string;
  principal?: Principal;
}

interface HeaderSink {
  setHeader(name: string, value: string): void;
}

interface Requirement {
  permission: Permission;
  /** The permission must hold over every tenant (scope `*`): the global breaker. */
  everyTenant?: boolean;
}

const REQUIREMENT = 'autoheal:admin-requirement';

/** What a route needs (see the permission table in @autoheal/access). Routes with a :tenantId also need that tenant in scope. */
export const RequirePermission = (permission: Permission, options: { everyTenant?: boolean } = {}) => SetMetadata(REQUIREMENT, { permission, ...options } satisfies Requirement);

function toHttpException(code: AccessErrorCode): HttpException {
  switch (code) {
    case AccessErrorCode.MissingCredential:
      return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', code, message: 'a credential is required: Authorization: Bearer <API key or OIDC token>' });
    case AccessErrorCode.InvalidCredential:
      return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', code, message: 'the credential is unknown, revoked, expired or invalid' });
    case AccessErrorCode.RoleForbidden:
      return new ForbiddenException({ statusCode: 403, error: 'Forbidden', code, message: "this credential's roles do not allow this" });
    case AccessErrorCode.TenantForbidden:
      return new ForbiddenException({ statusCode: 403, error: 'Forbidden', code, message: "this tenant is outside this credential's scope" });
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped access error ${String(unreachable)}`);
    }
  }
}

/**
 * /v1/admin/*: authenticates the bearer, checks the route's permission and tenant scope; 401 for
 * no or a bad credential, 403 for a credential that may not. Refusals are counted by AdminRefusalFilter.
 * Checks that need data (a remediation's tenant) are made by the service, with the same answers.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(
    private readonly auth: AdminAuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<GuardedRequest>();
    const requirement = this.reflector.getAllAndOverride<Requirement | undefined>(REQUIREMENT, [context.getHandler(), context.getClass()]);
    if (!requirement) throw new Error('an admin route without @RequirePermission');
    const authenticated = await this.auth.authenticate(req.headers.authorization);
    if (!authenticated.ok) {
      http.getResponse<HeaderSink>().setHeader('WWW-Authenticate', 'Bearer realm="autoheal-decision-admin"');
      throw toHttpException(authenticated.code);
    }
    const { principal } = authenticated;
    // Set before the checks: a refusal is counted against the credential (AdminRefusalFilter).
    req.principal = principal;
    const code = authorizationError(principal, requirement.permission, req.params.tenantId) ?? (requirement.everyTenant && principal.tenantScope !== '*' ? AccessErrorCode.TenantForbidden : null);
    if (code) throw toHttpException(code);
    return true;
  }
}

/** The principal the guard authenticated: the actor of what the request does. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<GuardedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route without AdminGuard');
  return principal;
});
