import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { routeRecordFrom } from './traffic/route-record.js';

/**
 * The demo's traffic switch: the command a standby agent runs to move a service's traffic on a
 * failover (apps/agent README, *Failover*). The demo has no load balancer or DNS to repoint, so it
 * records the route, one JSON line per failover, in the file named by its argument, and exits 0;
 * a team's own switch would repoint theirs here. Exits 2 on a bad call (the failover then reports
 * `traffic_not_moved`).
 */
function main(argv: string[]): number {
  const [file] = argv;
  if (!file) {
    console.error('usage: traffic-switch <routes file>   (with the AUTOHEAL_FAILOVER_* variables the host agent sets)');
    return 2;
  }
  const result = routeRecordFrom(process.env, new Date());
  if (!result.ok) {
    console.error(result.problems.join('\n'));
    return 2;
  }
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(result.record)}\n`);
  console.log(`routed ${result.record.tenantId}/${result.record.service} to ${result.record.region}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
