import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { authorizeIngest, type IngestAuthCode, type IngestKeyring } from './ingest-api-keys.js';
import { IngestError, IngestErrorCode } from './ingest.errors.js';
import { INGEST_KEYRING } from './ingest.tokens.js';

interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string | undefined>;
}

/** What a refused ingest request is told; an unknown key and another tenant's are told the same. */
export function ingestAuthMessage(code: IngestAuthCode): string {
  switch (code) {
    case IngestErrorCode.MissingApiKey:
      return 'an ingest key is required: Authorization: Bearer <key>';
    case IngestErrorCode.InvalidApiKey:
      return 'the ingest key is not valid for this tenant';
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped ingest auth code ${String(unreachable)}`);
    }
  }
}

/** `/v1/tenants/:tenantId/...` needs that tenant's ingest key: none, unknown or another tenant's → 401. (The body reader checks first, before reading the body; this covers any route it does not.) */
@Injectable()
export class IngestAuthGuard implements CanActivate {
  constructor(@Inject(INGEST_KEYRING) private readonly keyring: IngestKeyring) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<GuardedRequest>();
    const header = req.headers.authorization;
    const result = authorizeIngest(this.keyring, Array.isArray(header) ? header[0] : header, req.params.tenantId ?? '');
    if (!result.ok) throw new IngestError(result.code, ingestAuthMessage(result.code));
    return true;
  }
}
