import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { isRole, parseTenantScope, type Principal, type Role } from './principal.js';

/**
 * Asymmetric algorithms only: with an HMAC algorithm a verifier that holds the issuer's public
 * key could be fooled into using it as a shared secret (the "HS256 with the public key" attack),
 * and `none` is no signature at all.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export interface OidcConfig {
  issuer: string;
  audience: string;
  jwksUrl: string;
  algorithms: readonly string[];
  /** Claim holding the person's name or email, recorded as the actor. */
  subjectClaim: string;
  /** Claim holding the roles (an array of viewer, operator, approver, admin; other entries ignored). */
  rolesClaim: string;
  /** Claim holding the tenant scope: `'*'` or an array of tenant ids. */
  tenantsClaim: string;
  /** Leeway for exp/nbf/iat between clocks, in seconds. */
  clockToleranceSec: number;
}

const claimName = z.string().regex(/^[A-Za-z0-9_:/.-]{1,200}$/, 'must be a claim name');

/**
 * The OIDC variables both services read (one spelling, so one identity provider serves the
 * decision admin API and the auditor's API). Either all of issuer, audience and JWKS URL are
 * set, or none (then only API keys are accepted).
 */
export const OIDC_ENV = {
  AUTOHEAL_OIDC_ISSUER: z.string().min(1).optional(),
  AUTOHEAL_OIDC_AUDIENCE: z.string().min(1).optional(),
  AUTOHEAL_OIDC_JWKS_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  AUTOHEAL_OIDC_ALGORITHMS: z
    .string()
    .default('RS256,ES256,EdDSA')
    .transform((raw) => raw.split(',').map((a) => a.trim()).filter(Boolean))
    .pipe(z.array(z.enum(ASYMMETRIC_ALGORITHMS, { message: `must be a list of ${ASYMMETRIC_ALGORITHMS.join(', ')} (no HMAC, no none)` })).min(1)),
  AUTOHEAL_OIDC_SUBJECT_CLAIM: claimName.default('email'),
  AUTOHEAL_OIDC_ROLES_CLAIM: claimName.default('autoheal_roles'),
  AUTOHEAL_OIDC_TENANTS_CLAIM: claimName.default('autoheal_tenants'),
  AUTOHEAL_OIDC_CLOCK_TOLERANCE_SEC: z.coerce.number().int().min(0).max(300).default(30),
};

type OidcEnv = z.infer<z.ZodObject<typeof OIDC_ENV>>;

/** For a config schema's superRefine: issuer, audience and JWKS URL come together. */
export function checkOidcEnv(env: Pick<OidcEnv, 'AUTOHEAL_OIDC_ISSUER' | 'AUTOHEAL_OIDC_AUDIENCE' | 'AUTOHEAL_OIDC_JWKS_URL'>, ctx: z.RefinementCtx): void {
  const names = ['AUTOHEAL_OIDC_ISSUER', 'AUTOHEAL_OIDC_AUDIENCE', 'AUTOHEAL_OIDC_JWKS_URL'] as const;
  const set = names.filter((n) => env[n] !== undefined);
  if (set.length === 0 || set.length === names.length) return;
  for (const name of names.filter((n) => env[n] === undefined)) {
    ctx.addIssue({ code: 'custom', path: [name], message: `is required when ${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set` });
  }
}

/** The OIDC configuration, or null when OIDC is off. */
export function oidcConfigFrom(env: OidcEnv): OidcConfig | null {
  if (!env.AUTOHEAL_OIDC_ISSUER || !env.AUTOHEAL_OIDC_AUDIENCE || !env.AUTOHEAL_OIDC_JWKS_URL) return null;
  return {
    issuer: env.AUTOHEAL_OIDC_ISSUER,
    audience: env.AUTOHEAL_OIDC_AUDIENCE,
    jwksUrl: env.AUTOHEAL_OIDC_JWKS_URL,
    algorithms: env.AUTOHEAL_OIDC_ALGORITHMS,
    subjectClaim: env.AUTOHEAL_OIDC_SUBJECT_CLAIM,
    rolesClaim: env.AUTOHEAL_OIDC_ROLES_CLAIM,
    tenantsClaim: env.AUTOHEAL_OIDC_TENANTS_CLAIM,
    clockToleranceSec: env.AUTOHEAL_OIDC_CLOCK_TOLERANCE_SEC,
  };
}

export type OidcResult = { ok: true; principal: Principal } | { ok: false; reason: string };

/** The principal named by verified claims, or why the claims do not name one. */
export function principalFromClaims(config: Pick<OidcConfig, 'subjectClaim' | 'rolesClaim' | 'tenantsClaim'>, claims: JWTPayload): OidcResult {
  const subject = claims[config.subjectClaim];
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 200) return { ok: false, reason: `claim ${config.subjectClaim} must be a non-empty string` };
  if (typeof claims.iss !== 'string' || typeof claims.sub !== 'string') return { ok: false, reason: 'iss and sub are required' };
  const rawRoles = claims[config.rolesClaim];
  const roles: Role[] = Array.isArray(rawRoles) ? [...new Set(rawRoles.filter(isRole))] : [];
  const scope = parseTenantScope(claims[config.tenantsClaim]);
  if (!scope.ok) return { ok: false, reason: `claim ${config.tenantsClaim}: ${scope.message}` };
  const id = `oidc_${createHash('sha256').update(`${claims.iss}\n${claims.sub}`).digest('hex').slice(0, 16)}`;
  return { ok: true, principal: { id, subject, kind: 'oidc', roles, tenantScope: scope.scope } };
}

export interface OidcVerifier {
  verify(token: string): Promise<OidcResult>;
}

/**
 * Verifies bearer JWTs locally against the issuer's JWKS (fetched and cached by jose; a token
 * whose `kid` is not in the cached set triggers at most one refetch per cooldown): signature with
 * an allowed algorithm, issuer, audience, `exp` required, `nbf` honoured.
 */
export function createOidcVerifier(config: OidcConfig, options: { now?: () => Date } = {}): OidcVerifier {
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  return {
    async verify(token: string): Promise<OidcResult> {
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: [...config.algorithms],
          requiredClaims: ['exp', 'sub'],
          clockTolerance: config.clockToleranceSec,
          currentDate: options.now?.(),
        });
        return principalFromClaims(config, payload);
      } catch (error) {
        if (error instanceof errors.JOSEError) return { ok: false, reason: `${error.code}: ${error.message}` };
        // Not a JOSE verdict (e.g. a malformed header jose could not classify): refused all the same.
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}
