// Every process `npm start` runs goes through one registry, so that stopping the runner stops
// all of them, and whatever they started in turn (the agent's demo API servers):
//
// - Each child gets AUTOHEAL_RUN_ID in its environment, which its own children inherit (the agent
//   passes its environment on to the instances it runs; so do nats-server and Postgres). Whatever
//   carries the run's id belongs to the run: a sweep finds it in /proc/<pid>/environ, whoever its
//   parent is by then.
// - With `detached`, each child leads a process group of its own: a terminal's Ctrl-C reaches only
//   the runner, which stops its children in order, and a stop ends the child's whole group (the
//   child gracefully first, SIGKILL for the group after a deadline).
// - A reaper (tools/dev/reaper.js), a detached process reading a pipe from the runner, sweeps the
//   run when that pipe closes without a word first: the runner was SIGKILLed or crashed, and the
//   kernel closed the pipe for it.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const RUN_ID_VARIABLE = 'AUTOHEAL_RUN_ID';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** /proc/<pid>/stat: the state letter and the process group (fields 3 and 5; the name in parentheses may hold spaces). */
function procStat(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function hasProc() {
  return fs.existsSync('/proc/self/stat');
}

/** Whether `pid` is alive: exists and is not a zombie (a zombie has ended; only its parent's wait is missing). */
function alive(pid) {
  if (hasProc()) {
    const stat = procStat(pid);
    return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Live members of process group `pgid`. */
function groupMembers(pgid) {
  if (!hasProc()) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch (error) {
      return error.code === 'EPERM' ? [pgid] : [];
    }
  }
  const members = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat && stat.pgid === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** Live processes whose environment carries `AUTOHEAL_RUN_ID=<runId>` (Linux; elsewhere none are found this way). */
function processesOfRun(runId, exclude = []) {
  if (!hasProc()) return [];
  const marker = `${RUN_ID_VARIABLE}=${runId}`;
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (exclude.includes(pid)) continue;
    let environ;
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (environ.split('\0').includes(marker) && alive(pid)) found.push(pid);
  }
  return found;
}

function signal(target, name) {
  try {
    process.kill(target, name);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(check, timeoutMs, stepMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/**
 * Sends SIGTERM to every process of the run (but `exclude`), waits up to `graceMs` for them to
 * end, then SIGKILLs the rest and waits for them. Resolves to the pids that were still alive
 * when the sweep began.
 */
async function sweepRun(runId, { exclude = [], graceMs = 5_000, term = 'SIGTERM' } = {}) {
  const found = processesOfRun(runId, exclude);
  if (found.length === 0) return [];
  for (const pid of found) signal(pid, term);
  const gone = await waitUntil(() => found.every((pid) => !alive(pid)), graceMs);
  if (!gone) for (const pid of found) signal(pid, 'SIGKILL');
  await waitUntil(() => found.every((pid) => !alive(pid)), 5_000);
  return found;
}

class ProcessRegistry {
  /**
   * `detached`: each child leads its own process group (for the runner of `npm start`; the tests
   * that start the system leave their children in their own group, as before).
   */
  constructor({ runId = process.env[RUN_ID_VARIABLE] || crypto.randomUUID(), detached = false } = {}) {
    this.runId = runId;
    this.detached = detached;
    this.children = new Set();
    /** Children that lead a process group of their own: stopping one also clears its group. */
    this.groupLeaders = new Set();
    this.reaper = undefined;
  }

  /** The environment a child of the run gets: `base` (default: ours) with the run's marker. */
  env(base = process.env) {
    return { ...base, [RUN_ID_VARIABLE]: this.runId };
  }

  /** child_process.spawn, marked as the run's, in a group of its own when the registry is detached. */
  spawn(command, args, options = {}) {
    // A child may ask for a group of its own (a demo host the runner can lose whole, agent and instances at once).
    const detached = this.detached || Boolean(options.detached);
    const child = spawn(command, args, { ...options, env: this.env(options.env || process.env), detached });
    this.children.add(child);
    if (detached && child.pid) this.groupLeaders.add(child.pid);
    child.once('exit', () => this.children.delete(child));
    if (this.reaper && child.pid) this.reaper.stdin.write(`group ${child.pid}\n`);
    return child;
  }

  /**
   * Stops `child` and what it started: `signal` to the child itself (it stops its own children
   * gracefully), then, after `timeoutMs` or once it is gone, SIGKILL for whatever is left of its
   * group; resolves once nothing of the group is alive.
   */
  async stop(child, { signal: first = 'SIGTERM', timeoutMs = 10_000 } = {}) {
    const pid = child.pid;
    if (!pid) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      signal(pid, first);
      let timer;
      // Cleared once it has exited: a pending deadline would keep a finished script alive.
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        signal(pid, 'SIGKILL');
        await exited;
      }
    }
    if (this.groupLeaders.delete(pid)) {
      // Its group: what it started and left behind (or could not stop within the deadline).
      if (groupMembers(pid).length > 0) signal(-pid, 'SIGKILL');
      await waitUntil(() => groupMembers(pid).length === 0, 5_000);
    }
  }

  /**
   * Starts the reaper: it sweeps the run if this process ends without calling `release()` (killed,
   * or crashed). Its pipe is unref'd: it keeps nothing of ours alive.
   */
  startReaper() {
    const reaper = spawn(process.execPath, [path.join(__dirname, 'reaper.js'), this.runId, String(process.pid)], {
      env: this.env(),
      detached: true,
      // Its one line (the runner is gone, it stops the rest) goes where the runner's errors went.
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    reaper.unref();
    reaper.stdin.unref();
    // The reaper gone first (killed by hand): nothing to tell it any more.
    reaper.stdin.on('error', () => undefined);
    this.reaper = reaper;
    return reaper;
  }

  /** After a clean stop: tells the reaper that nothing is left to do, and lets it go. */
  release() {
    if (!this.reaper) return;
    this.reaper.stdin.end('done\n');
    this.reaper = undefined;
  }

  /** The run's processes that are still alive apart from this one and the reaper: stopped, SIGKILL after `graceMs`. */
  sweep(options = {}) {
    const exclude = [process.pid, ...(this.reaper && this.reaper.pid ? [this.reaper.pid] : [])];
    return sweepRun(this.runId, { ...options, exclude: [...exclude, ...(options.exclude || [])] });
  }
}

module.exports = { ProcessRegistry, RUN_ID_VARIABLE, processesOfRun, sweepRun, groupMembers, alive };
