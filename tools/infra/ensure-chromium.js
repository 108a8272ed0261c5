// Finds a Chromium for the console's browser tests (Playwright drives it through playwright-core,
// which downloads no browser): CHROMIUM_BIN, else `chromium` on the PATH, else Debian's `chromium`
// package installed with apt-get from the sources this machine is already configured with.
// Unlike nats-server or promtool, Chromium cannot be extracted into the project: it needs some
// eighty shared libraries (GTK, NSS, fonts…) that only a system install brings, so this installs
// it system-wide — only when running as root (as CI and the development machines do); otherwise
// it says what to install. Plain CommonJS so it runs before anything is built.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const PACKAGE = 'chromium';

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** "Chromium 156.0.8078.129 built on Debian…" → "156.0.8078.129"; null when it does not run. */
function versionOf(binary) {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (result.error || result.status !== 0) return null;
  const match = /(\d+\.\d+\.\d+\.\d+)/.exec(`${result.stdout}${result.stderr}`);
  return match ? match[1] : null;
}

function findOnPath() {
  return (
    (process.env.PATH || '')
      .split(path.delimiter)
      .filter(Boolean)
      .flatMap((dir) => ['chromium', 'chromium-browser'].map((name) => path.join(dir, name)))
      .find(isExecutable) || null
  );
}

function aptGet(args) {
  const result = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} exited with ${result.status}: ${(result.stderr || '').trim().slice(-800)}`);
}

function installFromDebian(log) {
  if (!process.getuid || process.getuid() !== 0) throw new Error('not running as root, so Debian\'s chromium package cannot be installed from here');
  log(`[infra] installing Debian's ${PACKAGE} package with apt-get (for the console's browser tests; takes a minute)`);
  try {
    aptGet(['install', '-y', '-q', '--no-install-recommends', PACKAGE]);
  } catch {
    // Package lists never fetched on this machine, or out of date.
    aptGet(['update', '-q']);
    aptGet(['install', '-y', '-q', '--no-install-recommends', PACKAGE]);
  }
  const binary = findOnPath() || ['/usr/bin/chromium'].find(isExecutable);
  if (!binary) throw new Error(`apt-get installed ${PACKAGE} but no chromium binary is on the PATH`);
  return binary;
}

/**
 * The path of a Chromium that runs: CHROMIUM_BIN (which must run), the one on the PATH, or
 * Debian's installed now. Exported as CHROMIUM_BIN so test workers use the same one.
 */
function ensureChromium({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (process.env.CHROMIUM_BIN) {
    if (versionOf(process.env.CHROMIUM_BIN) === null) throw new Error(`CHROMIUM_BIN=${process.env.CHROMIUM_BIN} does not run (\`--version\` failed)`);
    return process.env.CHROMIUM_BIN;
  }
  let binary = findOnPath();
  if (!binary || versionOf(binary) === null) {
    try {
      binary = installFromDebian(log);
    } catch (error) {
      throw new Error(`Chromium was not found and could not be installed:\n${error.message}\nInstall Debian's \`chromium\` package (apt-get install chromium) or set CHROMIUM_BIN to a Chromium or Chrome binary.`);
    }
  }
  const version = versionOf(binary);
  if (version === null) throw new Error(`${binary} does not run (\`--version\` failed)`);
  process.env.CHROMIUM_BIN = binary;
  log(`[infra] chromium ${version}: ${binary}`);
  return binary;
}

module.exports = { ensureChromium };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureChromium()}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
