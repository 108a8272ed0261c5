// Finds Prometheus' `promtool` (the alert rules are checked and unit-tested with it): PROMTOOL_BIN,
// else a project-local copy under .autoheal/bin/prometheus-<version>/, else `promtool` on the PATH,
// else Debian's `prometheus` package (which ships promtool) downloaded with apt from the mirror and
// suite this machine is already configured with, and extracted into .autoheal/bin (no system-wide
// install, nothing started). Plain CommonJS so it runs before anything is built.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { aptMirrors } = require('./ensure-nats-server.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = path.join(ROOT, '.autoheal', 'bin');
const APT_DIR = path.join(ROOT, '.autoheal', 'apt-prometheus');
const PACKAGE = 'prometheus';
const BINARY = path.join('usr', 'bin', 'promtool');

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** "2.42.0" from `promtool, version 2.42.0+ds (…)`; null when the binary does not run. */
function versionOf(binary) {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (result.error || result.status !== 0) return null;
  const match = /version (\d+\.\d+\.\d+)/.exec(`${result.stdout}${result.stderr}`);
  return match ? match[1] : null;
}

function findLocalBinary() {
  if (!fs.existsSync(BIN_DIR)) return null;
  return (
    fs
      .readdirSync(BIN_DIR)
      .filter((name) => /^prometheus-\d+\.\d+\.\d+$/.test(name))
      .sort()
      .reverse()
      .map((name) => path.join(BIN_DIR, name, BINARY))
      .find((bin) => isExecutable(bin) && versionOf(bin) !== null) || null
  );
}

function findOnPath() {
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'promtool'))
    .find(isExecutable) || null;
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}: ${(result.stderr || '').trim().slice(-800)}`);
  return result.stdout;
}

/**
 * Downloads the package with a private apt state (lists of the machine's own mirror and suite,
 * so no system file changes) and extracts it under .autoheal/bin/prometheus-<version>/.
 */
function downloadFromDebian(log) {
  const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find(isExecutable);
  const dpkgDeb = ['/usr/bin/dpkg-deb', '/bin/dpkg-deb'].find(isExecutable);
  if (!aptGet || !dpkgDeb) throw new Error('apt-get and dpkg-deb are not available');
  const mirrors = aptMirrors().filter((m) => m.suites.some((s) => s && !/security|updates|backports/.test(s)));
  if (mirrors.length === 0) throw new Error('no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/');
  const errors = [];
  for (const mirror of mirrors) {
    const suite = mirror.suites.find((s) => s && !/security|updates|backports/.test(s));
    try {
      const listsDir = path.join(APT_DIR, 'lists');
      const downloadDir = path.join(APT_DIR, 'download');
      fs.rmSync(downloadDir, { recursive: true, force: true });
      fs.mkdirSync(path.join(listsDir, 'partial'), { recursive: true });
      fs.mkdirSync(downloadDir, { recursive: true });
      const sourcesFile = path.join(APT_DIR, 'sources.list');
      const signedBy = mirror.signedBy ? `[signed-by=${mirror.signedBy}] ` : '';
      fs.writeFileSync(sourcesFile, `deb ${signedBy}${mirror.uri} ${suite} main\n`);
      const aptOptions = [
        '-o', `Dir::Etc::sourcelist=${sourcesFile}`,
        '-o', 'Dir::Etc::sourceparts=-',
        '-o', `Dir::State::Lists=${listsDir}`,
        '-o', 'APT::Get::List-Cleanup=0',
        '-o', `Dir::Cache::archives=${path.join(APT_DIR, 'archives')}`,
        ...(process.getuid && process.getuid() === 0 ? ['-o', 'APT::Sandbox::User=root'] : []),
      ];
      log(`[infra] fetching the ${PACKAGE} package list of Debian ${suite} from the configured mirror (for promtool)`);
      run(aptGet, ['-q', ...aptOptions, 'update']);
      run(aptGet, ['-q', ...aptOptions, 'download', PACKAGE], { cwd: downloadDir });
      const deb = fs.readdirSync(downloadDir).find((f) => f.startsWith(`${PACKAGE}_`) && f.endsWith('.deb'));
      if (!deb) throw new Error(`apt-get download left no ${PACKAGE} .deb`);
      const staging = path.join(APT_DIR, 'extract');
      fs.rmSync(staging, { recursive: true, force: true });
      run(dpkgDeb, ['-x', path.join(downloadDir, deb), staging]);
      const version = versionOf(path.join(staging, BINARY));
      if (!version) throw new Error(`the promtool in ${deb} does not run here`);
      const target = path.join(BIN_DIR, `prometheus-${version}`);
      fs.mkdirSync(BIN_DIR, { recursive: true });
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(staging, target);
      fs.rmSync(downloadDir, { recursive: true, force: true });
      log(`[infra] promtool ${version} extracted into ${path.relative(ROOT, target)}`);
      return path.join(target, BINARY);
    } catch (error) {
      errors.push(`${mirror.uri} ${suite}: ${error.message}`);
    }
  }
  throw new Error(errors.join('\n'));
}

/**
 * The path of a working promtool: PROMTOOL_BIN (which must run), the project-local copy, the one
 * on the PATH, or Debian's fetched now. Exports it as PROMTOOL_BIN so test workers use the same
 * one. Throws with what to do otherwise.
 */
function ensurePromtool({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (process.env.PROMTOOL_BIN) {
    if (versionOf(process.env.PROMTOOL_BIN) === null) throw new Error(`PROMTOOL_BIN=${process.env.PROMTOOL_BIN} does not run (\`promtool --version\` failed)`);
    return process.env.PROMTOOL_BIN;
  }
  let binary = findLocalBinary() || findOnPath();
  if (!binary) {
    try {
      binary = downloadFromDebian(log);
    } catch (error) {
      throw new Error(
        `promtool was not found and could not be fetched from Debian:\n${error.message}\n` +
          'Install Debian\'s `prometheus` package (it ships promtool), put a promtool on the PATH, ' +
          'or set PROMTOOL_BIN to one (https://github.com/prometheus/prometheus/releases).',
      );
    }
  }
  process.env.PROMTOOL_BIN = binary;
  return binary;
}

module.exports = { ensurePromtool };

if (require.main === module) {
  try {
    process.stdout.write(`${ensurePromtool()}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
