// The base images the Dockerfile builds FROM, made on this machine: no container registry is
// reachable from CI, so they come from Debian's packages. A Debian `trixie` root filesystem
// (minbase, plus Node.js 20 and CA certificates) is bootstrapped with debootstrap from the mirror
// this machine's apt sources name (read at run time: the repository names no mirror) and
// committed into buildah's image store as the runtime base; the build base adds npm to it.
// Both stay in buildah's store (outside the repository) and are made again whenever missing.
// Also installs buildah and debootstrap with apt when they are not there. Plain CommonJS: runs
// before anything is built.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { aptMirrors } = require('../infra/ensure-nats-server.js');

const SUITE = 'trixie';
/** Bumping this makes every machine bootstrap its base images again. */
const BASE_REVISION = '1';
const RUNTIME_BASE = `localhost/autoheal-base-runtime:${SUITE}-${BASE_REVISION}`;
const BUILD_BASE = `localhost/autoheal-base-build:${SUITE}-${BASE_REVISION}`;
const MIN_NODE = [20, 19];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status}: ${`${result.stderr || ''}${result.stdout || ''}`.trim().slice(-1500)}`);
  }
  return result.stdout || '';
}

function onPath(name) {
  return (process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(path.delimiter)
    .concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin'])
    .map((dir) => path.join(dir, name))
    .find((file) => {
      try {
        fs.accessSync(file, fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** buildah and debootstrap from Debian's packages, installed with apt-get when missing (needs root). */
function ensureImageTools({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const missing = ['buildah', 'debootstrap'].filter((tool) => !onPath(tool));
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) throw new Error(`${missing.join(' and ')} not found; install them (Debian/Ubuntu: sudo apt-get install ${missing.join(' ')})`);
  log(`[image] ${missing.join(' and ')} not found; installing with apt-get`);
  // Another apt run (a second test run, unattended upgrades) may hold the lock for a while.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  run('apt-get', [...lock, 'update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'] });
  run('apt-get', [...lock, 'install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function imageExists(name) {
  return spawnSync('buildah', ['inspect', '--type', 'image', name], { stdio: 'ignore' }).status === 0;
}

function checkNodeVersion(text) {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m || Number(m[1]) < MIN_NODE[0] || (Number(m[1]) === MIN_NODE[0] && Number(m[2]) < MIN_NODE[1])) {
    throw new Error(`Debian ${SUITE}'s nodejs is ${text.trim()}; autoheal needs ${MIN_NODE.join('.')} or later`);
  }
  return m[0];
}

/** Bootstraps the runtime base from the first configured Debian mirror that works. */
function makeRuntimeBase(log) {
  const mirrors = aptMirrors().filter((m) => !/security/.test(m.uri));
  if (mirrors.length === 0) throw new Error('no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/');
  const errors = [];
  for (const mirror of mirrors) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-rootfs-'));
    const rootfs = path.join(work, 'rootfs');
    try {
      log(`[image] bootstrapping a Debian ${SUITE} root filesystem with Node.js from the configured mirror (a few minutes, once per machine)`);
      const keyring = mirror.signedBy && fs.existsSync(mirror.signedBy) ? [`--keyring=${mirror.signedBy}`] : [];
      run('debootstrap', ['--variant=minbase', '--include=nodejs,ca-certificates', ...keyring, SUITE, rootfs, mirror.uri]);
      const version = checkNodeVersion(run('chroot', [rootfs, '/usr/bin/node', '--version']));
      // What a runtime does not need; the package lists are fetched again by whoever installs.
      for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info']) {
        fs.rmSync(path.join(rootfs, dir), { recursive: true, force: true });
        fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
      }
      const ctr = run('buildah', ['from', 'scratch']).trim();
      try {
        run('buildah', ['copy', ctr, rootfs, '/']);
        run('buildah', ['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--label', `org.opencontainers.image.description=Debian ${SUITE} minbase with Node.js ${version}`, '--cmd', '/usr/bin/node', ctr]);
        run('buildah', ['commit', '--rm', ctr, RUNTIME_BASE]);
      } catch (error) {
        spawnSync('buildah', ['rm', ctr], { stdio: 'ignore' });
        throw error;
      }
      log(`[image] ${RUNTIME_BASE}: Debian ${SUITE}, Node.js ${version}`);
      return;
    } catch (error) {
      errors.push(`${mirror.uri}: ${error.message}`);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  throw new Error(`could not bootstrap Debian ${SUITE}:\n${errors.join('\n')}`);
}

/** The build base: the runtime base plus Debian's npm. */
function makeBuildBase(log) {
  log(`[image] adding npm to the runtime base for the build stage`);
  const ctr = run('buildah', ['from', RUNTIME_BASE]).trim();
  try {
    const sh = (script) => run('buildah', ['run', '--isolation', 'chroot', ctr, '--', '/bin/sh', '-ec', script]);
    sh('apt-get update -q && apt-get install -y -q --no-install-recommends npm && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb');
    run('buildah', ['commit', '--rm', ctr, BUILD_BASE]);
  } catch (error) {
    spawnSync('buildah', ['rm', ctr], { stdio: 'ignore' });
    throw error;
  }
}

/** Both base images, made when missing; returns their names (the Dockerfile's NODE_IMAGE and BUILD_IMAGE). */
function ensureBaseImages({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  ensureImageTools({ log });
  if (!imageExists(RUNTIME_BASE)) makeRuntimeBase(log);
  if (!imageExists(BUILD_BASE)) makeBuildBase(log);
  return { runtime: RUNTIME_BASE, build: BUILD_BASE };
}

module.exports = { ensureImageTools, ensureBaseImages, RUNTIME_BASE, BUILD_BASE };

if (require.main === module) {
  try {
    process.stdout.write(`${JSON.stringify(ensureBaseImages())}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
