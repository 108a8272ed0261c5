#!/usr/bin/env node
'use strict';
// `npx autoheal`: runs the compiled CLI (apps/cli/dist). In a checkout where it is missing or
// older than its sources (right after `npm ci`, or after a pull), it first compiles the CLI and
// the libraries it uses with `tsc -b` (incremental: only what changed), so that the command works
// with no separate build step and never runs stale code.
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const app = path.resolve(__dirname, '..');
const root = path.resolve(app, '..', '..');
const entry = path.join(app, 'dist', 'main.js');
const buildInfo = path.join(app, 'dist', 'tsconfig.tsbuildinfo');

/** The newest modification time of the .ts files under `dir` (0 when there is none). */
function newestSource(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

function stale() {
  if (!existsSync(entry) || !existsSync(buildInfo)) return true;
  const built = statSync(buildInfo).mtimeMs;
  // The CLI's own sources and every library's (it uses several; walking them all takes milliseconds).
  const libs = path.join(root, 'libs');
  const sourceDirs = [path.join(app, 'src'), ...(existsSync(libs) ? readdirSync(libs).map((l) => path.join(libs, l, 'src')) : [])];
  return sourceDirs.some((dir) => newestSource(dir) > built);
}

if (stale()) {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    process.stderr.write('autoheal: the CLI is not built and TypeScript is not installed: run `npm ci` (or `npm run build`) first\n');
    process.exit(3);
  }
  process.stderr.write('autoheal: compiling the CLI (first run after an install or a change)…\n');
  const built = spawnSync(process.execPath, [tsc, '-b', path.join(app, 'tsconfig.json')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.status !== 0) {
    process.stderr.write('autoheal: compiling the CLI failed (see above)\n');
    process.exit(built.status ?? 1);
  }
  // tsc -b leaves outputs untouched when nothing they depend on changed: mark the build as current.
  const now = new Date();
  try {
    require('node:fs').utimesSync(buildInfo, now, now);
  } catch {
    // Read-only checkout: the next run checks again, no harm.
  }
}

require(entry);
