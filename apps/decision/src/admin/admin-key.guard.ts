import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, ServiceUnavailableException, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';

interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  adminPrincipal?: string;
}

interface HeaderSink {
  setHeader(name: string, value: string): void;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * /v1/admin/* needs `Authorization: Bearer <DECISION_ADMIN_API_KEY>`. Keys are compared as
 * sha256 digests in constant time; without a configured key the admin API is off (503), never open.
 */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(@Inject(DECISION_CONFIG) config: DecisionConfig) {
    this.expected = config.DECISION_ADMIN_API_KEY ? digest(config.DECISION_ADMIN_API_KEY) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const req = http.getRequest<GuardedRequest>();
    if (!this.expected) {
      throw new ServiceUnavailableException({ statusCode: 503, error: 'Service Unavailable', code: 'admin_api_disabled', message: 'the admin API is disabled: DECISION_ADMIN_API_KEY is not set' });
    }
    const header = req.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    const match = /^Bearer\s+(\S+)$/i.exec(value ?? '');
    if (!match || !timingSafeEqual(digest(match[1]), this.expected)) {
      http.getResponse<HeaderSink>().setHeader('WWW-Authenticate', 'Bearer realm="autoheal-decision-admin"');
      throw new UnauthorizedException({
        statusCode: 401,
        error: 'Unauthorized',
        code: match ? 'unknown_admin_key' : 'missing_admin_key',
        message: match ? 'the admin API key is wrong' : 'an admin API key is required: Authorization: Bearer <key>',
      });
    }
    req.adminPrincipal = 'admin-key';
    return true;
  }
}
