// Adds lock-file entries for optional, platform-specific binaries (e.g. @swc/core-darwin-arm64)
// that `npm install` leaves out when the registry it reaches does not serve them. Without the
// entries `npm ci` refuses the lock ("Missing: …@ from lock file"). Each entry carries the
// version the parent package pins and the os/cpu read from the package name, so npm skips it
// on other platforms and fetches it as usual where it applies.
// Run after `npm install` changes the lock: `node tools/lockfile/stub-platform-packages.js`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.resolve(__dirname, '..', '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const PLATFORM = /-(android|darwin|freebsd|linux|win32|openharmony)-([a-z0-9]+)/;
const CPU_ALIASES = { gnueabihf: 'arm' };

let added = 0;
for (const entry of Object.values(lock.packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies || {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const match = PLATFORM.exec(name);
    if (!match) continue;
    lock.packages[key] = {
      version: String(range).replace(/^[\^~=]/, ''),
      optional: true,
      os: [match[1]],
      cpu: [CPU_ALIASES[match[2]] || match[2]],
    };
    added += 1;
  }
}
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`package-lock.json: ${added} platform package entr${added === 1 ? 'y' : 'ies'} added`);
