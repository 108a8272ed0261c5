// Finds rsyslog with TLS (its OpenSSL network stream driver), for the SIEM forwarding test that
// sends to a real receiver: RSYSLOGD_BIN (with RSYSLOG_MODULE_DIR), else a project-local copy under
// .autoheal/bin/rsyslog-<version>/, else Debian's `rsyslog` and `rsyslog-openssl` packages (from
// the mirror and suite this machine's apt sources already use), plus the libraries they need that
// the machine lacks, downloaded with apt and extracted there. No system-wide install, nothing
// started. rsyslogd is linked dynamically, so it is taken from the machine's own suite (not sid),
// and runs with LD_LIBRARY_PATH set to the extracted library folder (`env` below). Plain CommonJS:
// runs before anything is built.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { aptMirrors } = require('./ensure-nats-server.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = path.join(ROOT, '.autoheal', 'bin');
const APT_DIR = path.join(ROOT, '.autoheal', 'apt-rsyslog');
const PACKAGES = ['rsyslog', 'rsyslog-openssl'];
const DAEMON = path.join('usr', 'sbin', 'rsyslogd');
const TLS_MODULE = 'lmnsd_ossl.so';

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}: ${(result.stderr || '').trim().slice(-800)}`);
  return result.stdout;
}

/** The module folder of an extracted tree: the one holding the OpenSSL driver. */
function moduleDirOf(root) {
  const libRoot = path.join(root, 'usr', 'lib');
  if (!fs.existsSync(libRoot)) return null;
  for (const sub of ['', ...fs.readdirSync(libRoot)]) {
    const dir = path.join(libRoot, sub, 'rsyslog');
    if (fs.existsSync(path.join(dir, TLS_MODULE))) return dir;
  }
  return null;
}

/** How to run rsyslogd from an extracted tree: the daemon, its module folder, and the environment it needs. */
function layoutOf(root) {
  const rsyslogd = path.join(root, DAEMON);
  const moduleDir = moduleDirOf(root);
  if (!isExecutable(rsyslogd) || !moduleDir) return null;
  const libDirs = [path.dirname(moduleDir), path.join(root, 'lib', path.basename(path.dirname(moduleDir))), path.join(root, 'usr', 'lib')].filter((d) => fs.existsSync(d));
  const env = { LD_LIBRARY_PATH: [...libDirs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(path.delimiter) };
  return { rsyslogd, moduleDir, env };
}

/** `rsyslogd -v` answers, i.e. every library it links is found. */
function runs(layout) {
  const result = spawnSync(layout.rsyslogd, ['-v'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...layout.env } });
  return !result.error && result.status === 0 && /rsyslogd\s+\d/.test(result.stdout);
}

function findLocal() {
  if (!fs.existsSync(BIN_DIR)) return null;
  return (
    fs
      .readdirSync(BIN_DIR)
      .filter((name) => /^rsyslog-\d/.test(name))
      .sort()
      .reverse()
      .map((name) => layoutOf(path.join(BIN_DIR, name)))
      .find((layout) => layout !== null && runs(layout)) || null
  );
}

/** Package names of a .deb's Depends (first alternative of each), without versions. */
function dependsOf(dpkgDeb, deb) {
  const field = run(dpkgDeb, ['-f', deb, 'Depends']).trim();
  if (!field) return [];
  return field.split(',').map((d) => d.split('|')[0].trim().split(/[\s(:]/)[0]).filter(Boolean);
}

function installed(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f', '${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && /install ok installed/.test(result.stdout);
}

/**
 * Downloads rsyslog, its OpenSSL driver and the libraries they depend on that are not installed
 * (one level down: what those libraries need in turn is libc and the like), with a private apt
 * state, and extracts them into one tree under .autoheal/bin/rsyslog-<version>/.
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
      log(`[infra] fetching Debian ${suite}'s rsyslog and rsyslog-openssl from the configured mirror`);
      run(aptGet, ['-q', ...aptOptions, 'update']);
      run(aptGet, ['-q', ...aptOptions, 'download', ...PACKAGES], { cwd: downloadDir });
      const debs = () => fs.readdirSync(downloadDir).filter((f) => f.endsWith('.deb'));
      const missing = [...new Set(debs().flatMap((deb) => dependsOf(dpkgDeb, path.join(downloadDir, deb))))].filter((p) => !PACKAGES.includes(p) && !installed(p));
      if (missing.length > 0) {
        log(`[infra] and the libraries this machine lacks: ${missing.join(', ')}`);
        run(aptGet, ['-q', ...aptOptions, 'download', ...missing], { cwd: downloadDir });
      }
      const main = debs().find((f) => f.startsWith('rsyslog_'));
      if (!main) throw new Error('apt-get download left no rsyslog .deb');
      const version = main.split('_')[1].replace(/[^A-Za-z0-9.+~-]/g, '-');
      const staging = path.join(APT_DIR, 'extract');
      fs.rmSync(staging, { recursive: true, force: true });
      for (const deb of debs()) run(dpkgDeb, ['-x', path.join(downloadDir, deb), staging]);
      const layout = layoutOf(staging);
      if (!layout || !runs(layout)) throw new Error(`the rsyslogd of ${main} does not run here (rsyslogd -v failed)`);
      const target = path.join(BIN_DIR, `rsyslog-${version}`);
      fs.mkdirSync(BIN_DIR, { recursive: true });
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(staging, target);
      fs.rmSync(downloadDir, { recursive: true, force: true });
      log(`[infra] rsyslog ${version} extracted into ${path.relative(ROOT, target)}`);
      return layoutOf(target);
    } catch (error) {
      errors.push(`${mirror.uri} ${suite}: ${error.message}`);
    }
  }
  throw new Error(errors.join('\n'));
}

/**
 * `{ rsyslogd, moduleDir, env }`: the daemon, the folder to load its modules from (imtcp, the
 * OpenSSL driver), and the environment to run it with. RSYSLOGD_BIN and RSYSLOG_MODULE_DIR name
 * another install (a system one: /usr/sbin/rsyslogd and /usr/lib/x86_64-linux-gnu/rsyslog).
 */
function ensureRsyslog({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (process.env.RSYSLOGD_BIN) {
    const layout = { rsyslogd: process.env.RSYSLOGD_BIN, moduleDir: process.env.RSYSLOG_MODULE_DIR || '', env: {} };
    if (!layout.moduleDir || !fs.existsSync(path.join(layout.moduleDir, TLS_MODULE))) throw new Error(`RSYSLOGD_BIN is set: RSYSLOG_MODULE_DIR must name the folder holding ${TLS_MODULE} (package rsyslog-openssl)`);
    if (!runs(layout)) throw new Error(`RSYSLOGD_BIN=${layout.rsyslogd} does not run (\`rsyslogd -v\` failed)`);
    return layout;
  }
  const local = findLocal();
  if (local) return local;
  try {
    return downloadFromDebian(log);
  } catch (error) {
    throw new Error(
      `rsyslog was not found and could not be fetched from Debian:\n${error.message}\n` +
        "Install Debian's `rsyslog` and `rsyslog-openssl` packages and set RSYSLOGD_BIN=/usr/sbin/rsyslogd and RSYSLOG_MODULE_DIR to their module folder.",
    );
  }
}

module.exports = { ensureRsyslog };

if (require.main === module) {
  try {
    process.stdout.write(`${JSON.stringify(ensureRsyslog())}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
