#!/usr/bin/env node
// `npm run image`: builds the container image localhost/autoheal:<package.json version> with
// buildah (no registry needed): the base images first when missing (tools/image/base-images.js),
// then `buildah bud --isolation chroot --layers` of the Dockerfile. Prints the image name.
//   IMAGE_TAG   the tag (default: the version of package.json)
//   IMAGE_CA_FILE  a CA bundle the build's npm must trust (default: NODE_EXTRA_CA_CERTS, else npm's
//               cafile, else the system bundle) — for networks that intercept TLS
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ensureBaseImages } = require('./base-images.js');

const ROOT = path.resolve(__dirname, '..', '..');
const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

/** The CA bundle npm trusts on this machine, handed to the build as a secret (never a layer). */
function caBundle() {
  const candidates = [process.env.IMAGE_CA_FILE, process.env.NODE_EXTRA_CA_CERTS];
  const npm = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' });
  if (npm.status === 0) candidates.push(npm.stdout.trim());
  candidates.push('/etc/ssl/certs/ca-certificates.crt');
  return candidates.find((file) => file && file !== 'null' && file !== 'undefined' && fs.existsSync(file)) || null;
}

/** Builds the image; resolves with its name. `log` receives buildah's output lines. */
function buildImage({ tag = process.env.IMAGE_TAG || VERSION, log = (line) => process.stderr.write(line) } = {}) {
  const bases = ensureBaseImages({ log: (line) => log(`${line}\n`) });
  const image = `localhost/autoheal:${tag}`;
  const ca = caBundle();
  const args = [
    'bud',
    '--isolation', 'chroot',
    '--layers',
    '--build-arg', `VERSION=${VERSION}`,
    '--build-arg', `BUILD_IMAGE=${bases.build}`,
    '--build-arg', `NODE_IMAGE=${bases.runtime}`,
    ...(ca ? ['--secret', `id=ca-certificates,src=${ca}`] : []),
    '-t', image,
    ROOT,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('buildah', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => log(chunk.toString('utf8')));
    child.stderr.on('data', (chunk) => log(chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(image) : reject(new Error(`buildah bud exited with ${code}`))));
  });
}

module.exports = { buildImage, VERSION };

if (require.main === module) {
  const started = Date.now();
  buildImage().then(
    (image) => {
      process.stderr.write(`built ${image} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      process.stdout.write(`${image}\n`);
    },
    (error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}
