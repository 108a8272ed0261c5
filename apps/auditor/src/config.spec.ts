import { loadConfig } from './config';

// Any existing files: the config checks that the key and trust files exist; loading them is the messaging module's job.
const valid = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/autoheal', AUTOHEAL_SIGNING_KEY_FILE: __filename, AUTOHEAL_TRUST_FILE: __filename };

describe('loadConfig', () => {
  it('applies defaults', () => {
    expect(loadConfig(valid)).toEqual({
      DATABASE_URL: valid.DATABASE_URL,
      AUTOHEAL_SIGNING_KEY_FILE: __filename,
      AUTOHEAL_TRUST_FILE: __filename,
      NATS_URL: 'nats://127.0.0.1:4222',
      AUDITOR_PORT: 3000,
      AUDITOR_REDACT_FIELDS: [],
      AUDITOR_TENANT_API_KEYS: [],
      AUDITOR_READ_POOL_SIZE: 4,
      AUDITOR_READ_RATE_PER_MINUTE: 120,
      AUDITOR_READ_BURST: 60,
      AUDITOR_VERIFY_COST: 10,
      AUDITOR_VERIFY_PACE: 0.25,
      AUDITOR_FULL_VERIFY_PER_HOUR: 4,
      AUDITOR_FULL_VERIFY_AFTER_HOURS: 24,
      AUDITOR_READ_RECORD_WINDOW_SECONDS: 60,
      AUDITOR_CHECKPOINT_EVERY_ROWS: 1000,
      AUDITOR_CHECKPOINT_EVERY_SECONDS: 60,
      AUDITOR_EXPORT_MAX_ROWS: 100_000,
      AUDITOR_ARCHIVE_DIR: '.autoheal/audit-archive',
      AUDITOR_RETENTION_INTERVAL_MS: 3_600_000,
      AUDITOR_PARTITIONS_AHEAD: 3,
      AUDITOR_RETENTION_UNKNOWN_TENANT_DAYS: 6 * 365,
      AUDITOR_API_KEYS_RECONCILE_MS: 60_000,
      AUDITOR_REFUSAL_WINDOW_MS: 60_000,
      AUDITOR_LAG_SAMPLE_INTERVAL_MS: 15_000,
      AUDITOR_SIEM_FORMAT: 'json',
      AUDITOR_SIEM_BATCH_SIZE: 500,
      AUDITOR_SIEM_POLL_MS: 1000,
      AUDITOR_SIEM_TIMEOUT_MS: 30_000,
      AUDITOR_SIEM_BACKOFF_MAX_MS: 60_000,
      AUDITOR_SIEM_NAME: 'siem',
      AUDITOR_SIEM_FACILITY: 13,
      AUTOHEAL_OIDC_ALGORITHMS: ['RS256', 'ES256', 'EdDSA'],
      AUTOHEAL_OIDC_SUBJECT_CLAIM: 'email',
      AUTOHEAL_OIDC_ROLES_CLAIM: 'autoheal_roles',
      AUTOHEAL_OIDC_TENANTS_CLAIM: 'autoheal_tenants',
      AUTOHEAL_OIDC_CLOCK_TOLERANCE_SEC: 30,
      HTTP_HOST: '127.0.0.1',
    });
  });

  it('forwards to a SIEM over TLS only, never without a CA, and takes a client certificate with its key', () => {
    expect(loadConfig({ ...valid, AUDITOR_SIEM_URL: '' }).AUDITOR_SIEM_URL).toBeUndefined();
    expect(loadConfig({ ...valid, AUDITOR_SIEM_URL: 'tls://siem.example:6514', AUDITOR_SIEM_CA_FILE: __filename, AUDITOR_SIEM_FORMAT: 'cef' })).toMatchObject({
      AUDITOR_SIEM_URL: 'tls://siem.example:6514',
      AUDITOR_SIEM_FORMAT: 'cef',
    });
    expect(() => loadConfig({ ...valid, AUDITOR_SIEM_URL: 'tcp://siem.example:514' })).toThrow(/AUDITOR_SIEM_URL: must be tls:\/\/<host>:<port>/);
    expect(() => loadConfig({ ...valid, AUDITOR_SIEM_URL: 'tls://siem.example:6514' })).toThrow(/AUDITOR_SIEM_CA_FILE: is required with AUDITOR_SIEM_URL/);
    expect(() => loadConfig({ ...valid, AUDITOR_SIEM_FORMAT: 'xml', AUDITOR_SIEM_NAME: 'a b' })).toThrow(/AUDITOR_SIEM_FORMAT[\s\S]*AUDITOR_SIEM_NAME/);
    expect(() => loadConfig({ ...valid, AUDITOR_SIEM_URL: 'tls://siem.example:6514', AUDITOR_SIEM_CA_FILE: __filename, AUDITOR_SIEM_CERT_FILE: __filename })).toThrow(
      /AUDITOR_SIEM_CERT_FILE: and AUDITOR_SIEM_KEY_FILE go together/,
    );
  });

  it('refuses a checkpoint cadence out of range, naming each variable', () => {
    expect(() => loadConfig({ ...valid, AUDITOR_CHECKPOINT_EVERY_ROWS: '0', AUDITOR_CHECKPOINT_EVERY_SECONDS: 'soon' })).toThrow(
      /AUDITOR_CHECKPOINT_EVERY_ROWS[\s\S]*AUDITOR_CHECKPOINT_EVERY_SECONDS/,
    );
    expect(loadConfig({ ...valid, AUDITOR_CHECKPOINT_DIR: '' }).AUDITOR_CHECKPOINT_DIR).toBeUndefined();
  });

  it('refuses read limits that could never let a verify through, and names each bad one', () => {
    expect(() => loadConfig({ ...valid, AUDITOR_READ_BURST: '5', AUDITOR_VERIFY_COST: '6' })).toThrow(/AUDITOR_VERIFY_COST: must not exceed AUDITOR_READ_BURST \(5\)/);
    expect(() => loadConfig({ ...valid, AUDITOR_READ_RATE_PER_MINUTE: '0', AUDITOR_FULL_VERIFY_PER_HOUR: '-1' })).toThrow(
      /AUDITOR_READ_RATE_PER_MINUTE[\s\S]*AUDITOR_FULL_VERIFY_PER_HOUR/,
    );
    expect(() => loadConfig({ ...valid, DATABASE_READER_URL: 'not a url' })).toThrow(/DATABASE_READER_URL: must be a postgres:\/\/ URL/);
    expect(loadConfig({ ...valid, DATABASE_READER_URL: '' }).DATABASE_READER_URL).toBeUndefined();
  });

  it('takes OIDC as issuer, audience and JWKS URL together, with asymmetric algorithms only', () => {
    const oidc = { AUTOHEAL_OIDC_ISSUER: 'https://idp.example', AUTOHEAL_OIDC_AUDIENCE: 'autoheal', AUTOHEAL_OIDC_JWKS_URL: 'https://idp.example/jwks.json' };
    expect(loadConfig({ ...valid, ...oidc, AUTOHEAL_OIDC_ALGORITHMS: 'ES256' })).toMatchObject({ ...oidc, AUTOHEAL_OIDC_ALGORITHMS: ['ES256'] });
    expect(() => loadConfig({ ...valid, AUTOHEAL_OIDC_ISSUER: oidc.AUTOHEAL_OIDC_ISSUER })).toThrow(/AUTOHEAL_OIDC_AUDIENCE: is required[\s\S]*AUTOHEAL_OIDC_JWKS_URL: is required/);
    for (const alg of ['HS256', 'none', 'RS256,HS512']) {
      expect(() => loadConfig({ ...valid, ...oidc, AUTOHEAL_OIDC_ALGORITHMS: alg })).toThrow(/AUTOHEAL_OIDC_ALGORITHMS[\s\S]*no HMAC, no none/);
    }
    expect(() => loadConfig({ ...valid, ...oidc, AUTOHEAL_OIDC_JWKS_URL: 'file:///etc/passwd' })).toThrow(/AUTOHEAL_OIDC_JWKS_URL/);
  });

  it('will not start without a signing key and a trust file, and names both', () => {
    expect(() => loadConfig({ DATABASE_URL: valid.DATABASE_URL })).toThrow(/AUTOHEAL_SIGNING_KEY_FILE: required[\s\S]*AUTOHEAL_TRUST_FILE: required/);
    expect(() => loadConfig({ ...valid, AUTOHEAL_TRUST_FILE: '/nonexistent/trust.json' })).toThrow(/AUTOHEAL_TRUST_FILE: no such file/);
  });

  it('parses tenant keys', () => {
    const config = loadConfig({ ...valid, AUDITOR_TENANT_API_KEYS: ' acme=tnt_acme_0123456789abcdef , globex-2=tnt_globex_0123456789abcdef,' });
    expect(config.AUDITOR_TENANT_API_KEYS).toEqual([
      { tenantId: 'acme', key: 'tnt_acme_0123456789abcdef' },
      { tenantId: 'globex-2', key: 'tnt_globex_0123456789abcdef' },
    ]);
  });

  it('lists every bad variable at once, without echoing secrets', () => {
    let message = '';
    try {
      loadConfig({
        DATABASE_URL: 'not a url',
        AUDITOR_PORT: 'eighty',
        AUDITOR_OPS_API_KEY: 'short',
        AUDITOR_TENANT_API_KEYS: 'acme=tooshort,bad.tenant=tnt_0123456789abcdefgh,noequals',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ['DATABASE_URL', 'AUDITOR_PORT', 'AUDITOR_OPS_API_KEY', 'AUDITOR_TENANT_API_KEYS']) expect(message).toContain(name);
    expect(message).toContain('entry 1 (acme)');
    expect(message).toContain('entry 2');
    expect(message).toContain('entry 3');
    expect(message).not.toContain('tooshort');
    expect(message).not.toContain('tnt_0123456789abcdefgh');
  });
});
