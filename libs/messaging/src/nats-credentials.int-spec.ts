import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { checkNatsEnv, natsAuthOptions, natsEnvShape } from './nats-credentials.js';
import { inboxPrefixFor } from './nats-permissions.js';
import { writeNewSeed } from './nats-dev-material.js';

/** The NATS part of every service's config, on real files. */
describe('NATS configuration checks', () => {
  const schema = z.object(natsEnvShape).superRefine(checkNatsEnv);
  let dir: string;
  let seedFile: string;
  let publicKey: string;
  let caFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'autoheal-nats-env-'));
    seedFile = join(dir, 'svc.nk');
    publicKey = writeNewSeed(seedFile);
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const issues = (env: Record<string, string>) => {
    const result = schema.safeParse(env);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts a plain nats:// URL without credentials (a local anonymous server) and a tls:// URL with both files', () => {
    expect(issues({ NATS_URL: 'nats://127.0.0.1:4222' })).toEqual([]);
    expect(issues({ NATS_URL: 'tls://nats:4222', NATS_NKEY_SEED_FILE: seedFile, NATS_TLS_CA_FILE: caFile })).toEqual([]);
  });

  it('requires the seed and the CA with a tls:// URL, and readable files that hold what they should', () => {
    expect(issues({ NATS_URL: 'tls://nats:4222' })).toEqual([
      'NATS_NKEY_SEED_FILE: required with a tls:// NATS_URL',
      'NATS_TLS_CA_FILE: required with a tls:// NATS_URL',
    ]);
    expect(issues({ NATS_URL: 'tls://nats:4222', NATS_NKEY_SEED_FILE: join(dir, 'missing.nk'), NATS_TLS_CA_FILE: caFile })).toEqual([
      `NATS_NKEY_SEED_FILE: cannot read ${join(dir, 'missing.nk')}`,
    ]);
    expect(issues({ NATS_URL: 'tls://nats:4222', NATS_NKEY_SEED_FILE: caFile, NATS_TLS_CA_FILE: caFile })[0]).toMatch(/NATS_NKEY_SEED_FILE: .* does not hold a NATS user NKey seed/);
    expect(issues({ NATS_URL: 'tls://a:4222,nats://b:4222', NATS_NKEY_SEED_FILE: seedFile, NATS_TLS_CA_FILE: caFile })).toEqual(['NATS_URL: mixes tls:// and plain servers']);
  });

  it('derives the identity’s own inbox prefix from its seed', () => {
    const options = natsAuthOptions({ seedFile, caFile });
    expect(options.inboxPrefix).toBe(inboxPrefixFor(publicKey));
    expect(options.tls).toEqual({ caFile });
    expect(typeof options.authenticator).toBe('function');
    expect(natsAuthOptions({})).toEqual({});
  });
});
