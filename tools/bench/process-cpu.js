// Where a bench's CPU goes: samples /proc once a second and adds each process's CPU time (user +
// system) to the phase the bench is in, by group (a service, nats-server, the bench's Postgres
// backends...). The machine's total busy time is sampled alongside, so what the groups do not
// account for (other work on the machine) shows as "rest of the machine". Linux only; elsewhere
// `available` is false and nothing is sampled.
'use strict';
const fs = require('node:fs');

const TICKS_PER_SEC = 100; // USER_HZ: 100 on every Linux Node supports
const available = fs.existsSync('/proc/stat');

/** utime + stime of a process, in ticks; undefined when it is gone. */
function processTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Busy and total ticks of the whole machine (all cores). */
function machineTicks() {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu;
  return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/**
 * `groups()` returns the current `{ group: [pid, ...] }` (pids may come and go: Postgres backends);
 * `phase()` the phase to charge. `report()` gives, per phase, the seconds sampled and the CPU of
 * each group in cores (1.0 = one core busy the whole phase).
 */
function startCpuSampler({ groups, phase, everyMs = 1_000 }) {
  if (!available) return { available, stop: () => undefined, report: () => ({}) };
  const last = new Map();
  const totals = {};
  let lastMachine = machineTicks();
  let lastAt = performance.now();
  const sample = async () => {
    const at = performance.now();
    const current = phase();
    const bucket = (totals[current] ??= { seconds: 0, ticks: {}, machineBusy: 0 });
    bucket.seconds += (at - lastAt) / 1000;
    lastAt = at;
    const machine = machineTicks();
    bucket.machineBusy += machine.busy - lastMachine.busy;
    lastMachine = machine;
    const byGroup = await groups();
    for (const [group, pids] of Object.entries(byGroup)) {
      for (const pid of pids) {
        const ticks = processTicks(pid);
        if (ticks === undefined) continue;
        const before = last.get(pid);
        last.set(pid, ticks);
        // A pid seen for the first time is charged from its next sample on.
        if (before !== undefined) bucket.ticks[group] = (bucket.ticks[group] ?? 0) + (ticks - before);
      }
    }
  };
  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(sample).catch(() => undefined);
  }, everyMs);
  return {
    available,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
    /** { phase: { seconds, cores: { group: n }, machine: n } } with cores = CPU seconds / wall seconds. */
    report: () =>
      Object.fromEntries(
        Object.entries(totals).map(([p, t]) => [
          p,
          {
            seconds: t.seconds,
            cores: Object.fromEntries(Object.entries(t.ticks).map(([g, ticks]) => [g, ticks / TICKS_PER_SEC / t.seconds])),
            machine: t.machineBusy / TICKS_PER_SEC / t.seconds,
          },
        ]),
      ),
  };
}

module.exports = { startCpuSampler, processTicks, machineTicks };
