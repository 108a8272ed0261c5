import { authorizeIngest, parseIngestApiKeys, type IngestKeyring } from './ingest-api-keys.js';
import { IngestErrorCode } from './ingest.errors.js';

function keyring(raw: string): IngestKeyring {
  const parsed = parseIngestApiKeys(raw);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.keyring;
}

describe('parseIngestApiKeys', () => {
  it('accepts several tenants and several keys per tenant, keeping only digests', () => {
    const ring = keyring(' acme=key-one-1234 , globex=key-two-1234,acme=key-three-123 ');
    expect(ring.byTenant.get('acme')).toHaveLength(2);
    expect(JSON.stringify([...ring.byTenant].map(([t, ds]) => [t, ds.map((d) => d.toString('utf8'))]))).not.toContain('key-one');
  });

  it('accepts nothing configured (every request is then refused)', () => {
    expect(parseIngestApiKeys('')).toMatchObject({ ok: true });
  });

  it('lists every problem at once', () => {
    const parsed = parseIngestApiKeys('acme.x=key-one-1234,globex=short,novalue,initech=key-one-1234,acme2=key-one-1234');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toHaveLength(4);
    expect(parsed.problems.join('\n')).toMatch(/entry 1.*subject token[\s\S]*entry 2 \(globex\).*8 characters[\s\S]*entry 3[\s\S]*entry 5 \(acme2\).*initech/);
  });
});

describe('authorizeIngest', () => {
  const ring = keyring('acme=acme-key-1234,acme=acme-key-5678,globex=globex-key-1234');
  it.each([
    ['the tenant key', 'Bearer acme-key-1234', 'acme', null],
    ['a rotated second key', 'bearer acme-key-5678', 'acme', null],
    ['no header', undefined, 'acme', IngestErrorCode.MissingApiKey],
    ['another scheme', 'Basic acme-key-1234', 'acme', IngestErrorCode.MissingApiKey],
    // One answer for all three: a refusal does not tell whether the key exists, or whose it is.
    ['an unknown key', 'Bearer acme-key-0000', 'acme', IngestErrorCode.InvalidApiKey],
    ["another tenant's key", 'Bearer globex-key-1234', 'acme', IngestErrorCode.InvalidApiKey],
    ['a key for an unconfigured tenant path', 'Bearer acme-key-1234', 'initech', IngestErrorCode.InvalidApiKey],
  ])('%s', (_name, header, tenantId, code) => {
    const result = authorizeIngest(ring, header, tenantId);
    expect(result.ok ? null : result.code).toBe(code);
  });
});
