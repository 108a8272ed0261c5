import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, publicKeyToBase64 } from '@autoheal/security';
import { readTrustedKeys } from './audit-bundle.js';
import { run } from './program.js';

async function audit(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  // A credential and an address where nothing listens: every case here is settled before a request.
  const env = { AUTOHEAL_ADMIN_KEY: 'k', AUTOHEAL_AUDITOR_URL: 'http://127.0.0.1:9' };
  const code = await run(['audit', ...args], env, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => new Date() });
  return { code, out, err };
}

describe('autoheal audit (arguments and the offline check; the export against a running auditor is in test/evidence)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'autoheal-audit-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [['export', '--out', 'x'], /missing required argument 'tenant'/],
    [['export', 'acme'], /required option '--out <dir>' not specified/],
    [['export', 'a.b', '--out', 'x'], /"a.b" is not a tenant id/],
    [['export', 'acme', '--out', 'x', '--from', 'yesterday'], /--from must be an RFC 3339 time/],
    [['verify-bundle'], /missing required argument 'dir'/],
    [['verify-bundle', 'a', '--tenant', 'acme'], /unknown option '--tenant'/],
    [['verify-bundle', 'a', '--nope'], /unknown option '--nope'/],
    [['shred'], /unknown command 'shred'/],
    [['verify', 'acme', 'extra'], /too many arguments/],
  ])('%j is refused with exit 2, naming what is wrong', async (args, message) => {
    const { code, err } = await audit(args);
    expect(code).toBe(2);
    expect(err[0]).toMatch(message);
  });

  it('reports a directory that is not a bundle as not intact (exit 1), naming the missing manifest', async () => {
    const { code, out } = await audit(['verify-bundle', dir]);
    expect(code).toBe(1);
    expect(out.join('\n')).toMatch(/^NOT INTACT[\s\S]*missing_file \(manifest.json\)/);
  });

  it('reads trusted keys from a key list or a trust file (only its auditor entries), and refuses a key whose id does not match', () => {
    const auditor = generateSigningKey().key;
    const detector = generateSigningKey().key;
    const file = join(dir, 'trust.json');
    writeFileSync(
      file,
      JSON.stringify({
        keys: [
          { keyId: auditor.keyId, identity: 'auditor', publicKey: publicKeyToBase64(auditor.publicKey) },
          { keyId: detector.keyId, identity: 'detector', publicKey: publicKeyToBase64(detector.publicKey) },
        ],
      }),
    );
    expect([...readTrustedKeys(file).keys()]).toEqual([auditor.keyId]);
    writeFileSync(file, JSON.stringify({ keys: [{ keyId: detector.keyId, publicKey: publicKeyToBase64(auditor.publicKey) }] }));
    expect(() => readTrustedKeys(file)).toThrow(/does not match its public key/);
  });
});
