// Finds the nats-server binary, installing it with apt-get when that is possible (CI machines,
// containers running as root). Plain CommonJS so it runs before anything is built.
const { spawnSync } = require('node:child_process');
const { accessSync, constants } = require('node:fs');
const { delimiter, join } = require('node:path');

const KNOWN_LOCATIONS = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** NATS_SERVER_BIN, else `nats-server` on PATH, else the usual install locations; null if none. */
function findNatsServerBinary() {
  if (process.env.NATS_SERVER_BIN) {
    if (isExecutable(process.env.NATS_SERVER_BIN)) return process.env.NATS_SERVER_BIN;
    throw new Error(`NATS_SERVER_BIN=${process.env.NATS_SERVER_BIN} is not an executable file`);
  }
  const onPath = (process.env.PATH || '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, 'nats-server'));
  return [...onPath, ...KNOWN_LOCATIONS].find(isExecutable) || null;
}

function run(command, args) {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
}

/**
 * The path of a nats-server binary. When none is found and we are root on a machine with
 * apt-get, installs Debian's package; otherwise fails with what to do. Exports the path as
 * NATS_SERVER_BIN so child processes (the test workers) use the same binary.
 */
function ensureNatsServerBinary({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  let binary = findNatsServerBinary();
  if (!binary) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find(isExecutable);
    if (!isRoot || !aptGet) {
      throw new Error(
        'nats-server was not found. Install it (Debian/Ubuntu: `sudo apt-get install nats-server`; ' +
          'or download a release from https://github.com/nats-io/nats-server/releases) ' +
          'and put it on PATH or set NATS_SERVER_BIN.',
      );
    }
    log('[infra] nats-server not found; installing it with apt-get');
    run(aptGet, ['update']);
    run(aptGet, ['install', '-y', '--no-install-recommends', 'nats-server']);
    binary = findNatsServerBinary();
    if (!binary) throw new Error('apt-get installed nats-server but the binary is still not found');
  }
  process.env.NATS_SERVER_BIN = binary;
  return binary;
}

module.exports = { ensureNatsServerBinary, findNatsServerBinary };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureNatsServerBinary()}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
