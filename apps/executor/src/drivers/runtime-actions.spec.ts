import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { remediationAction, RUNTIME_ACTIONS, runtimeCan } from '@autoheal/contracts';

/**
 * The executor README's action × driver table, the contracts' RUNTIME_ACTIONS (what the decision
 * service plans) and the drivers (which declare RUNTIME_ACTIONS of their runtime) must agree: a
 * plan the executor cannot carry out, or a README that promises what no driver does, is a defect.
 */
function readmeTable(): Record<string, Record<string, boolean>> {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const lines = readme.split('\n');
  const header = lines.findIndex((l) => l.startsWith('| action | `agent`'));
  if (header < 0) throw new Error('the executor README has no action × driver table');
  const runtimes = lines[header]
    .split('|')
    .slice(2, -1)
    .map((cell) => /`([a-z]+)`/.exec(cell)?.[1] ?? cell.trim());
  const table: Record<string, Record<string, boolean>> = Object.fromEntries(runtimes.map((r) => [r, {}]));
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [action, ...cells] = line.split('|').slice(1, -1).map((c) => c.trim());
    cells.forEach((cell, i) => (table[runtimes[i]][action] = cell !== '—'));
  }
  return table;
}

describe('which actions each runtime carries out', () => {
  const table = readmeTable();

  it.each(Object.keys(RUNTIME_ACTIONS) as (keyof typeof RUNTIME_ACTIONS)[])('the README table says for %s exactly what the contracts say', (runtime) => {
    const documented = remediationAction.options.filter((a) => table[runtime]?.[a]);
    expect(documented).toEqual(remediationAction.options.filter((a) => (RUNTIME_ACTIONS[runtime] as readonly string[]).includes(a)));
  });

  it('names every action in the table', () => {
    for (const runtime of Object.keys(table)) expect(Object.keys(table[runtime]).sort()).toEqual([...remediationAction.options].sort());
  });

  it('plans for a StatefulSet only what a StatefulSet can take', () => {
    const statefulSet = { kind: 'kubernetes' as const, namespace: 'prod', workload: 'StatefulSet' as const, name: 'db' };
    expect(remediationAction.options.filter((a) => runtimeCan(statefulSet, a))).toEqual(['restart', 'scale_out', 'scale_in']);
    expect(remediationAction.options.filter((a) => runtimeCan({ ...statefulSet, workload: 'Deployment' }, a))).toEqual([...RUNTIME_ACTIONS.kubernetes]);
  });
});
