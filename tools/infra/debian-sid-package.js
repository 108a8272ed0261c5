// A program from one of Debian `sid`'s packages, without a system-wide install: the .deb is
// downloaded with apt from the mirror this machine's apt sources already name (a private apt
// state under .autoheal/apt-<package>/), extracted into .autoheal/bin/<package>-<version>/ and
// reused from there. The same approach as ensure-nats-server.js, for any package whose program
// runs on Debian 12 (static Go binaries: kustomize). Plain CommonJS: runs before anything is built.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { aptMirrors } = require('./ensure-nats-server.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = path.join(ROOT, '.autoheal', 'bin');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}: ${(result.stderr || '').trim().slice(-800)}`);
  return result.stdout;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The path of `program` (relative to the package's root, e.g. `usr/bin/kustomize`) from Debian
 * sid's `pkg`: the project-local copy when there is one that `accepts` (given the program's path),
 * else the package fetched now. Throws saying what to install otherwise.
 */
function ensureSidProgram({ pkg, program, accepts = () => true, log = (line) => process.stderr.write(`${line}\n`) }) {
  if (fs.existsSync(BIN_DIR)) {
    const local = fs
      .readdirSync(BIN_DIR)
      .filter((name) => name.startsWith(`${pkg}-`))
      .sort()
      .reverse()
      .map((name) => path.join(BIN_DIR, name, program))
      .find((file) => isExecutable(file) && accepts(file));
    if (local) return local;
  }
  const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find(isExecutable);
  const dpkgDeb = ['/usr/bin/dpkg-deb', '/bin/dpkg-deb'].find(isExecutable);
  if (!aptGet || !dpkgDeb) throw new Error(`${pkg}: apt-get and dpkg-deb are not available; install Debian's ${pkg} and put ${program} under ${path.relative(ROOT, BIN_DIR)}/${pkg}-<version>/`);
  const aptDir = path.join(ROOT, '.autoheal', `apt-${pkg}`);
  const errors = [];
  for (const mirror of aptMirrors().filter((m) => !/security/.test(m.uri))) {
    try {
      const listsDir = path.join(aptDir, 'lists');
      const downloadDir = path.join(aptDir, 'download');
      fs.rmSync(downloadDir, { recursive: true, force: true });
      fs.mkdirSync(path.join(listsDir, 'partial'), { recursive: true });
      fs.mkdirSync(downloadDir, { recursive: true });
      const sourcesFile = path.join(aptDir, 'sid.list');
      fs.writeFileSync(sourcesFile, `deb ${mirror.signedBy ? `[signed-by=${mirror.signedBy}] ` : ''}${mirror.uri} sid main\n`);
      const options = [
        '-o', `Dir::Etc::sourcelist=${sourcesFile}`,
        '-o', 'Dir::Etc::sourceparts=-',
        '-o', `Dir::State::Lists=${listsDir}`,
        '-o', 'APT::Get::List-Cleanup=0',
        '-o', `Dir::Cache::archives=${path.join(aptDir, 'archives')}`,
        ...(process.getuid && process.getuid() === 0 ? ['-o', 'APT::Sandbox::User=root'] : []),
      ];
      log(`[infra] fetching Debian sid's ${pkg} from the configured mirror`);
      run(aptGet, ['-q', ...options, 'update']);
      run(aptGet, ['-q', ...options, 'download', pkg], { cwd: downloadDir });
      const deb = fs.readdirSync(downloadDir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
      if (!deb) throw new Error(`apt-get download left no ${pkg} .deb`);
      const version = deb.slice(pkg.length + 1).split('_')[0].replace(/[^A-Za-z0-9.+~-]/g, '-');
      const target = path.join(BIN_DIR, `${pkg}-${version}`);
      const staging = path.join(aptDir, 'extract');
      fs.rmSync(staging, { recursive: true, force: true });
      run(dpkgDeb, ['-x', path.join(downloadDir, deb), staging]);
      const binary = path.join(staging, program);
      if (!isExecutable(binary) || !accepts(binary)) throw new Error(`${deb} has no usable ${program}`);
      fs.mkdirSync(BIN_DIR, { recursive: true });
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(staging, target);
      log(`[infra] ${pkg} ${version} extracted into ${path.relative(ROOT, target)}`);
      return path.join(target, program);
    } catch (error) {
      errors.push(`${mirror.uri}: ${error.message}`);
    }
  }
  throw new Error(`${pkg} was not found locally and could not be fetched from Debian sid:\n${errors.join('\n') || 'no Debian mirror in the apt sources'}`);
}

module.exports = { ensureSidProgram };
