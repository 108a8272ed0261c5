// Finds a nats-server recent enough for production settings (`sync_interval: always`, subject
// partitioning): NATS_SERVER_BIN, else a project-local copy under .autoheal/bin/, else Debian's
// `sid` package downloaded with apt from the mirror this machine is already configured with and
// extracted into .autoheal/bin/nats-server-<version>/ (no system-wide install). Plain CommonJS so
// it runs before anything is built. Also makes sure `openssl` is there (dev TLS material).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = path.join(ROOT, '.autoheal', 'bin');
const APT_DIR = path.join(ROOT, '.autoheal', 'apt');
const MIN_VERSION = '2.12.3';
const SUITE = 'sid';

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** "2.15.1" from `nats-server: v2.15.1`; null when the binary does not run. */
function versionOf(binary) {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) return null;
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(`${result.stdout}${result.stderr}`);
  return match ? `${match[1]}.${match[2]}.${match[3]}` : null;
}

function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

function recentEnough(version) {
  return version !== null && compareVersions(version, MIN_VERSION) >= 0;
}

/** The newest project-local nats-server (.autoheal/bin/nats-server-<version>/usr/sbin/nats-server) that runs and is recent enough. */
function findLocalBinary() {
  if (!fs.existsSync(BIN_DIR)) return null;
  const found = fs
    .readdirSync(BIN_DIR)
    .map((name) => /^nats-server-(\d+\.\d+\.\d+)$/.exec(name))
    .filter(Boolean)
    .sort((a, b) => compareVersions(b[1], a[1]))
    .map((m) => path.join(BIN_DIR, m[0], 'usr', 'sbin', 'nats-server'))
    .find((bin) => isExecutable(bin) && recentEnough(versionOf(bin)));
  return found || null;
}

function checkedOverride(binary) {
  if (!isExecutable(binary)) throw new Error(`NATS_SERVER_BIN=${binary} is not an executable file`);
  const version = versionOf(binary);
  if (!recentEnough(version)) {
    throw new Error(`NATS_SERVER_BIN=${binary} is nats-server ${version ?? '(version unknown)'}; autoheal needs ${MIN_VERSION} or later (sync_interval: always)`);
  }
  return binary;
}

/** NATS_SERVER_BIN (checked), else the project-local copy; null when there is none yet. */
function findNatsServerBinary() {
  if (process.env.NATS_SERVER_BIN) return checkedOverride(process.env.NATS_SERVER_BIN);
  return findLocalBinary();
}

/**
 * Debian stanzas of the machine's apt sources (deb822 `.sources` files and one-line `.list`
 * files): [{ uri, signedBy }], Debian's own archive keyring first. Read at run time, so the
 * repository never names a mirror.
 */
function aptMirrors(etc = '/etc/apt') {
  const stanzas = [];
  const partsDir = path.join(etc, 'sources.list.d');
  const files = [path.join(etc, 'sources.list'), ...(fs.existsSync(partsDir) ? fs.readdirSync(partsDir).map((f) => path.join(partsDir, f)) : [])];
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const block of text.split(/\n\s*\n/)) {
        const field = (name) => (new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(block) || [])[1];
        if (!/^Types:.*\bdeb\b/mi.test(block) || /^Enabled:\s*no/mi.test(block)) continue;
        const uris = (field('URIs') || '').split(/\s+/).filter(Boolean);
        const suites = (field('Suites') || '').split(/\s+/);
        for (const uri of uris) stanzas.push({ uri, signedBy: field('Signed-By'), suites });
      }
    } else if (file.endsWith('.list')) {
      for (const line of text.split('\n')) {
        const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
        if (!m) continue;
        const signedBy = (/signed-by=(\S+)/.exec(m[1] || '') || [])[1];
        stanzas.push({ uri: m[2], signedBy, suites: [m[3]] });
      }
    }
  }
  // Debian's archive (not its security archive, not third-party repositories) first.
  const score = (s) => (s.signedBy && /debian-archive-keyring/.test(s.signedBy) ? 0 : 2) + (/security/.test(s.uri + s.suites.join(' ')) ? 1 : 0);
  return stanzas
    .filter((s) => /^https?:\/\//.test(s.uri))
    .sort((a, b) => score(a) - score(b))
    .filter((s, i, all) => all.findIndex((o) => o.uri === s.uri) === i);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    ...options,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}: ${(result.stderr || '').trim().slice(-800)}`);
  return result.stdout;
}

function whichApt(name) {
  return [`/usr/bin/${name}`, `/bin/${name}`].find(isExecutable) || null;
}

/** Downloads nats-server from Debian sid with a private apt state and extracts it under .autoheal/bin/. */
function downloadFromDebianSid(log) {
  const aptGet = whichApt('apt-get');
  const dpkgDeb = whichApt('dpkg-deb');
  if (!aptGet || !dpkgDeb) throw new Error('apt-get and dpkg-deb are not available');
  const mirrors = aptMirrors();
  if (mirrors.length === 0) throw new Error('no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/');
  const errors = [];
  for (const mirror of mirrors) {
    try {
      const listsDir = path.join(APT_DIR, 'lists');
      const downloadDir = path.join(APT_DIR, 'download');
      fs.rmSync(downloadDir, { recursive: true, force: true });
      fs.mkdirSync(path.join(listsDir, 'partial'), { recursive: true });
      fs.mkdirSync(downloadDir, { recursive: true });
      const sourcesFile = path.join(APT_DIR, 'sid.list');
      const signedBy = mirror.signedBy ? `[signed-by=${mirror.signedBy}] ` : '';
      fs.writeFileSync(sourcesFile, `deb ${signedBy}${mirror.uri} ${SUITE} main\n`);
      const aptOptions = [
        '-o', `Dir::Etc::sourcelist=${sourcesFile}`,
        '-o', 'Dir::Etc::sourceparts=-',
        '-o', `Dir::State::Lists=${listsDir}`,
        '-o', 'APT::Get::List-Cleanup=0',
        '-o', `Dir::Cache::archives=${path.join(APT_DIR, 'archives')}`,
        ...(process.getuid && process.getuid() === 0 ? ['-o', 'APT::Sandbox::User=root'] : []),
      ];
      log(`[infra] fetching the nats-server package list of Debian ${SUITE} from the configured mirror`);
      run(aptGet, ['-q', ...aptOptions, 'update']);
      run(aptGet, ['-q', ...aptOptions, 'download', 'nats-server'], { cwd: downloadDir });
      const deb = fs.readdirSync(downloadDir).find((f) => /^nats-server_.*\.deb$/.test(f));
      if (!deb) throw new Error('apt-get download left no nats-server .deb');
      const staging = path.join(APT_DIR, 'extract');
      fs.rmSync(staging, { recursive: true, force: true });
      run(dpkgDeb, ['-x', path.join(downloadDir, deb), staging]);
      const version = versionOf(path.join(staging, 'usr', 'sbin', 'nats-server'));
      if (!version) throw new Error(`the binary in ${deb} does not run here`);
      const target = path.join(BIN_DIR, `nats-server-${version}`);
      fs.mkdirSync(BIN_DIR, { recursive: true });
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(staging, target);
      log(`[infra] nats-server ${version} extracted into ${path.relative(ROOT, target)}`);
      return path.join(target, 'usr', 'sbin', 'nats-server');
    } catch (error) {
      errors.push(`${mirror.uri}: ${error.message}`);
    }
  }
  throw new Error(errors.join('\n'));
}

/**
 * The path of a nats-server ≥ 2.12.3: NATS_SERVER_BIN (which must pass the version check), the
 * project-local copy, or Debian sid's package fetched now. Exports it as NATS_SERVER_BIN so child
 * processes (test workers, benchmarks) use the same binary. Throws with what to do otherwise.
 */
function ensureNatsServerBinary({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  let binary = findNatsServerBinary();
  if (!binary) {
    try {
      binary = downloadFromDebianSid(log);
    } catch (error) {
      throw new Error(
        `nats-server ${MIN_VERSION} or later was not found and could not be fetched from Debian ${SUITE}:\n${error.message}\n` +
          `Either let this script reach a Debian mirror with apt (the machine's apt sources are used), ` +
          `or download a release from https://github.com/nats-io/nats-server/releases and either extract it as ` +
          `${path.relative(ROOT, BIN_DIR)}/nats-server-<version>/usr/sbin/nats-server or set NATS_SERVER_BIN to its path.`,
      );
    }
    if (!recentEnough(versionOf(binary))) throw new Error(`Debian ${SUITE}'s nats-server is older than ${MIN_VERSION}; set NATS_SERVER_BIN to a newer one`);
  }
  process.env.NATS_SERVER_BIN = binary;
  ensureOpenssl({ log });
  return binary;
}

/** `openssl` (dev CA and certificates); installed with apt-get when missing and we are root. */
function ensureOpenssl({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const onPath = (process.env.PATH || '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'openssl'));
  if ([...onPath, '/usr/bin/openssl'].some(isExecutable)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const aptGet = whichApt('apt-get');
  if (!isRoot || !aptGet) throw new Error('openssl was not found; install it (Debian/Ubuntu: `sudo apt-get install openssl`)');
  log('[infra] openssl not found; installing it with apt-get');
  run(aptGet, ['update'], { stdio: ['ignore', 'inherit', 'inherit'] });
  run(aptGet, ['install', '-y', '--no-install-recommends', 'openssl'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

module.exports = { ensureNatsServerBinary, findNatsServerBinary, ensureOpenssl, aptMirrors, MIN_VERSION };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureNatsServerBinary()}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
