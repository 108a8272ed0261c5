#!/usr/bin/env node
// The container image's entry point: `<app> [migrate]` starts one app of the image.
//   auditor | decision | detector | executor   the service, OpenTelemetry preloaded
//   console                                     the ops console (apps/console)
//   <service> migrate                           that service's migrations (DATABASE_MIGRATION_URL)
//   agent                                       the host agent (apps/agent; config file from AUTOHEAL_AGENT_CONFIG)
//   --version                                   prints the image's version
// The app is loaded in this process (no shell, no child): signals reach it directly as PID 1.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const APPS_DIR = path.join(__dirname, 'apps');
const EX_USAGE = 64;

function available() {
  if (!fs.existsSync(APPS_DIR)) return [];
  return fs
    .readdirSync(APPS_DIR)
    .filter((name) => fs.existsSync(path.join(APPS_DIR, name, 'dist', 'main.js')))
    .sort();
}

function usage(message) {
  process.stderr.write(
    `${message}\nusage: <app> [migrate] | --version\napps in this image: ${available().join(', ') || '(none)'}\n`,
  );
  process.exit(EX_USAGE);
}

const [app, command = 'main', ...rest] = process.argv.slice(2);
if (app === '--version') {
  process.stdout.write(`${process.env.AUTOHEAL_VERSION || 'unknown'}\n`);
  process.exit(0);
}
if (!app) usage('no app named');
if (!/^[a-z][a-z0-9-]{0,40}$/.test(app) || !available().includes(app)) usage(`unknown app ${JSON.stringify(app)}`);
if (rest.length > 0) usage(`unexpected arguments ${JSON.stringify(rest)}`);

const dist = path.join(APPS_DIR, app, 'dist');
switch (command) {
  case 'main':
    // As `node --require @autoheal/telemetry/register`: the SDK patches pg, http and Nest before the app loads them.
    require('@autoheal/telemetry/register');
    require(path.join(dist, 'main.js'));
    break;
  case 'migrate':
    if (!fs.existsSync(path.join(dist, 'migrate.js'))) usage(`${app} has no migrations`);
    require(path.join(dist, 'migrate.js'));
    break;
  default:
    usage(`unknown command ${JSON.stringify(command)}`);
}
