import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A tenant the credential may see, as the decision service's admin API lists it. */
export interface TenantSummary {
  tenantId: string;
  displayName?: string;
}

export interface Session {
  id: string;
  /** The person's own API key or OIDC token: sent on as `Authorization: Bearer`, never shown to the page. */
  credential: string;
  /** Echoed by the page on every state-changing call (X-Console-CSRF). */
  csrfToken: string;
  tenants: TenantSummary[];
  lastUsedMs: number;
}

const token = () => randomBytes(32).toString('base64url');

/**
 * Sessions held in memory: a restart logs everyone out, and two console replicas need sticky
 * sessions (or one replica). The credential stays on the server, so script on the page (an XSS)
 * can use it only while the page is open and cannot carry it away.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly idleMs: number,
    private readonly now: () => number,
  ) {}

  create(credential: string, tenants: TenantSummary[]): Session {
    this.sweep();
    const session: Session = { id: token(), credential, csrfToken: token(), tenants, lastUsedMs: this.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session for this id, touched; undefined when unknown or idle too long. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (this.now() - session.lastUsedMs > this.idleMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastUsedMs = this.now();
    return session;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (now - s.lastUsedMs > this.idleMs) this.sessions.delete(id);
  }
}

/** Constant-time comparison of the page's CSRF header with the session's token. */
export function csrfMatches(session: Session, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const a = Buffer.from(header);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}
