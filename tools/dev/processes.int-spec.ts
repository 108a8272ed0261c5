/**
 * The process registry npm start runs everything through (processes.js): a stop ends the child's
 * whole process group, also what it started and what ignores SIGTERM, and a sweep finds the run's
 * processes by the id in their environment, whoever their parent is by then. Real processes.
 */
import { randomUUID } from 'node:crypto';
import { expectEventually } from '@autoheal/testing';
import { alive, groupMembers, processesOfRun, ProcessRegistry } from './processes.js';

describe('ProcessRegistry (real processes)', () => {
  const registries: ProcessRegistry[] = [];
  const registry = (detached: boolean) => {
    const r = new ProcessRegistry({ runId: `processes-spec-${randomUUID()}`, detached });
    registries.push(r);
    return r;
  };
  afterAll(async () => {
    for (const r of registries) await r.sweep({ graceMs: 100 });
  });

  it('stops a detached child and the grandchildren in its group, SIGKILL for what ignores SIGTERM', async () => {
    const r = registry(true);
    // bash ignores SIGTERM here, and leaves two grandchildren of its own.
    const child = r.spawn('bash', ['-c', 'trap "" TERM; sleep 300 & sleep 300 & wait'], { stdio: 'ignore' });
    await expectEventually(() => expect(groupMembers(child.pid!)).toHaveLength(3), { timeoutMs: 20_000 });
    expect(processesOfRun(r.runId)).toHaveLength(3);

    await r.stop(child, { timeoutMs: 1_000 });
    expect({ group: groupMembers(child.pid!), run: processesOfRun(r.runId) }).toEqual({ group: [], run: [] });
  });

  it('sweeps what carries the run id, even a process that left its parent and its group', async () => {
    const r = registry(true);
    // The grandchild starts a session of its own (setsid): out of the group, found by its environment.
    const child = r.spawn('bash', ['-c', 'setsid sleep 300 & wait'], { stdio: 'ignore' });
    await expectEventually(() => expect(processesOfRun(r.runId)).toHaveLength(2), { timeoutMs: 20_000 });
    const [escaped] = processesOfRun(r.runId).filter((pid) => pid !== child.pid);

    await r.stop(child, { timeoutMs: 1_000 });
    expect(alive(escaped)).toBe(true);
    expect(await r.sweep({ graceMs: 2_000 })).toEqual([escaped]);
    expect(alive(escaped)).toBe(false);
  });
});
