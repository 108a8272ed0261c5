// kustomize 5 (renders deploy/k8s for the manifest test): KUSTOMIZE_BIN, else Debian sid's
// `kustomize` package extracted into .autoheal/bin/ (tools/infra/debian-sid-package.js).
'use strict';
const { spawnSync } = require('node:child_process');
const { ensureSidProgram } = require('./debian-sid-package.js');

const MAJOR = 5;

/**
 * What `kustomize version` prints (`v5.8.1`; Debian's build prints `(devel)`, its version is the
 * package's, in the folder name), or null when it does not run.
 */
function kustomizeVersion(binary) {
  const result = spawnSync(binary, ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) return null;
  return `${result.stdout}${result.stderr}`.trim();
}

/** Runs, and is not another major version than the manifests are written for. */
function acceptable(binary) {
  const printed = kustomizeVersion(binary);
  if (printed === null) return false;
  const fromPackage = /kustomize-(\d+)\./.exec(binary);
  const match = /v?(\d+)\.\d+\.\d+/.exec(printed) || fromPackage;
  return match === null || Number(match[1]) === MAJOR;
}

function ensureKustomize(options = {}) {
  if (process.env.KUSTOMIZE_BIN) {
    if (!acceptable(process.env.KUSTOMIZE_BIN)) throw new Error(`KUSTOMIZE_BIN=${process.env.KUSTOMIZE_BIN} is not a working kustomize ${MAJOR}.x`);
    return process.env.KUSTOMIZE_BIN;
  }
  const binary = ensureSidProgram({ pkg: 'kustomize', program: 'usr/bin/kustomize', accepts: acceptable, ...options });
  process.env.KUSTOMIZE_BIN = binary;
  return binary;
}

module.exports = { ensureKustomize, kustomizeVersion };

if (require.main === module) {
  try {
    const binary = ensureKustomize();
    process.stdout.write(`${binary} (${kustomizeVersion(binary)})\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
