// The reaper of one `npm start` run (see processes.js): started detached by the runner with a
// pipe on its stdin. The runner writes `group <pgid>` for each child it starts and `done` after a
// clean stop. When the pipe closes without `done` (the runner was SIGKILLed, or crashed), the
// reaper stops every process of the run: those whose environment carries the run's id, and the
// children's process groups (for a system without /proc), SIGKILL after a grace period.
'use strict';
const { sweepRun, groupMembers } = require('./processes.js');

const [runId, runnerPid] = process.argv.slice(2);
const groups = new Set();
let done = false;
let buffered = '';

// Never stopped by the terminal's Ctrl-C or a hang-up meant for the runner.
for (const name of ['SIGINT', 'SIGHUP']) process.on(name, () => undefined);

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop();
  for (const line of lines) {
    const [word, value] = line.trim().split(' ');
    if (word === 'group' && Number(value) > 0) groups.add(Number(value));
    if (word === 'done') done = true;
  }
});

process.stdin.on('close', () => {
  if (done) process.exit(0);
  void reap().finally(() => process.exit(0));
});

async function reap() {
  process.stderr.write(`reaper: runner ${runnerPid} is gone; stopping what it started\n`);
  const swept = sweepRun(runId, { exclude: [process.pid], graceMs: 5_000 });
  for (const pgid of groups) {
    if (groupMembers(pgid).length === 0) continue;
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  await swept;
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  for (const pgid of groups) {
    if (groupMembers(pgid).length === 0) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
