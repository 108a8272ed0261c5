import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createOidcVerifier, type OidcConfig, type OidcVerifier } from './oidc';

/** A local OIDC issuer: an ES256 signing key whose public half is served as a JWKS on an OS-picked port. */
describe('OIDC bearer verification against a local issuer', () => {
  let server: Server;
  let config: OidcConfig;
  let verifier: OidcVerifier;
  let signingKey: CryptoKey;
  let publicJwk: JWK;
  let rsaPublicPem: string;
  let rsaPrivate: CryptoKey;
  let jwksRequests = 0;
  const KID = 'issuer-key-1';

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { email: 'alice@example.com', autoheal_roles: ['approver'], autoheal_tenants: ['acme'] };

  const token = (overrides: { alg?: string; kid?: string; key?: CryptoKey; iss?: string; aud?: string; exp?: number | string; nbf?: number; payload?: object } = {}) => {
    let jwt = new SignJWT({ ...claims, ...overrides.payload })
      .setProtectedHeader({ alg: overrides.alg ?? 'ES256', kid: overrides.kid ?? KID })
      .setIssuer(overrides.iss ?? config.issuer)
      .setAudience(overrides.aud ?? config.audience)
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime(overrides.exp ?? '5m');
    if (overrides.nbf !== undefined) jwt = jwt.setNotBefore(overrides.nbf);
    return jwt.sign(overrides.key ?? signingKey);
  };

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256', use: 'sig' };
    const rsa = await generateKeyPair('RS256');
    rsaPrivate = rsa.privateKey;
    rsaPublicPem = await exportSPKI(rsa.publicKey);
    const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'issuer-rsa', alg: 'RS256', use: 'sig' };
    server = createServer((req, res) => {
      jwksRequests += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk, rsaJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    config = {
      issuer: 'https://idp.test.example',
      audience: 'autoheal',
      jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
      algorithms: ['ES256', 'RS256'],
      subjectClaim: 'email',
      rolesClaim: 'autoheal_roles',
      tenantsClaim: 'autoheal_tenants',
      clockToleranceSec: 0,
    };
    verifier = createOidcVerifier(config);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('accepts a valid token with its roles, tenant scope and subject', async () => {
    const result = await verifier.verify(await token());
    expect(result).toEqual({ ok: true, principal: expect.objectContaining({ subject: 'alice@example.com', kind: 'oidc', roles: ['approver'], tenantScope: ['acme'] }) as object });
    expect(jwksRequests).toBeGreaterThanOrEqual(1);
    expect(await verifier.verify(await token({ alg: 'RS256', kid: 'issuer-rsa', key: rsaPrivate }))).toMatchObject({ ok: true });
  });

  const refused = async (jwt: string, reason: RegExp) => {
    const result = await verifier.verify(jwt);
    if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.principal)}`);
    expect(result.reason).toMatch(reason);
  };

  it('refuses an expired token', async () => {
    await refused(await token({ exp: Math.floor(Date.now() / 1000) - 60 }), /ERR_JWT_EXPIRED/);
  });

  it('refuses a token not yet valid (nbf)', async () => {
    await refused(await token({ nbf: Math.floor(Date.now() / 1000) + 600 }), /nbf|ERR_JWT_CLAIM_VALIDATION_FAILED/);
  });

  it('refuses another issuer and another audience', async () => {
    await refused(await token({ iss: 'https://evil.example' }), /iss/);
    await refused(await token({ aud: 'someone-else' }), /aud/);
  });

  it('refuses a token without exp', async () => {
    const signed = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid: KID }).setIssuer(config.issuer).setAudience(config.audience).setSubject('user-1').sign(signingKey);
    await refused(signed, /exp/);
  });

  it('refuses alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: 'none', kid: KID })}.${b64({ ...claims, iss: config.issuer, aud: config.audience, sub: 'user-1', exp: now + 300 })}.`;
    await refused(unsigned, /ERR_JOSE_ALG_NOT_ALLOWED|alg/);
  });

  it('refuses HS256 signed with the issuer\'s public key as the secret (key confusion)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'HS256', kid: 'issuer-rsa' })}.${b64({ ...claims, autoheal_roles: ['admin'], iss: config.issuer, aud: config.audience, sub: 'user-1', exp: now + 300 })}`;
    for (const secret of [rsaPublicPem, JSON.stringify(publicJwk)]) {
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await refused(forged, /ERR_JOSE_ALG_NOT_ALLOWED|alg/);
    }
  });

  it('refuses a key id the issuer does not publish (signed by a key of the attacker\'s)', async () => {
    const attacker = await generateKeyPair('ES256');
    await refused(await token({ kid: 'attacker-key', key: attacker.privateKey }), /ERR_JWKS_NO_MATCHING_KEY/);
    // The attacker's key under the issuer's kid: the signature does not verify.
    await refused(await token({ key: attacker.privateKey }), /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it('refuses a tampered payload (roles raised to admin, signature kept)', async () => {
    const [header, payload, signature] = (await token()).split('.');
    const claimsIn = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${b64({ ...claimsIn, autoheal_roles: ['admin'], autoheal_tenants: '*' })}.${signature}`;
    await refused(tampered, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it('refuses a token whose algorithm is not on the allow-list even with a published key', async () => {
    const narrow = createOidcVerifier({ ...config, algorithms: ['RS256'] });
    const result = await narrow.verify(await token());
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/ERR_JOSE_ALG_NOT_ALLOWED/) as string });
  });
});
