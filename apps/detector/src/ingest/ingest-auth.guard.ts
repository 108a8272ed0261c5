import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { authorizeIngest, type IngestKeyring } from './ingest-api-keys.js';
import { IngestError, IngestErrorCode } from './ingest.errors.js';
import { INGEST_KEYRING } from './ingest.tokens.js';

interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string | undefined>;
}

function messageFor(code: IngestErrorCode.MissingApiKey | IngestErrorCode.UnknownApiKey | IngestErrorCode.TenantForbidden): string {
  switch (code) {
    case IngestErrorCode.MissingApiKey:
      return 'an ingest key is required: Authorization: Bearer <key>';
    case IngestErrorCode.UnknownApiKey:
      return 'the ingest key is unknown';
    case IngestErrorCode.TenantForbidden:
      return 'this ingest key belongs to another tenant';
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped ingest auth code ${String(unreachable)}`);
    }
  }
}

/** `/v1/tenants/:tenantId/...` needs that tenant's ingest key: none or unknown → 401, another tenant's → 403. */
@Injectable()
export class IngestAuthGuard implements CanActivate {
  constructor(@Inject(INGEST_KEYRING) private readonly keyring: IngestKeyring) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<GuardedRequest>();
    const header = req.headers.authorization;
    const result = authorizeIngest(this.keyring, Array.isArray(header) ? header[0] : header, req.params.tenantId ?? '');
    if (!result.ok) throw new IngestError(result.code, messageFor(result.code));
    return true;
  }
}
