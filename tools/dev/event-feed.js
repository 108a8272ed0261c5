// Prints incidents and remediations as they happen, one readable line each, for `npm start`.
'use strict';
const path = require('node:path');
const { connect } = require('@nats-io/transport-node');
// The SDK's credential helper (built by npm start before this runs).
const { natsCredentialOptions } = require(path.join(__dirname, '..', '..', 'libs/sdk/dist/credentials.js'));

function describe(event) {
  const d = event.data || {};
  const target = d.instance ? `${event.tenantId}/${d.service}/${d.instance}` : event.tenantId;
  switch (event.type) {
    case 'incident.opened':
      return `incident opened     ${target}  ${d.kind}, detected ${Math.round(d.detectionLatencyMs)} ms after the signal`;
    case 'incident.resolved':
      return `incident resolved   ${target}  ${d.reason} after ${(d.durationMs / 1000).toFixed(1)} s`;
    case 'remediation.planned':
      // A failover's plan names the region it moves to (the executor never picks one).
      return `plan                ${target}  ${d.action}${d.parameters && d.parameters.toRegion ? ` to ${d.parameters.toRegion}` : ''} (${d.reason})`;
    case 'remediation.escalated':
      return `escalated           ${target}  ${d.reason}`;
    case 'remediation.started':
      return `${`${d.action} started`.padEnd(20)}${target}`;
    case 'remediation.succeeded':
      return `${`${d.action} succeeded`.padEnd(20)}${target}  in ${Math.round(d.durationMs)} ms${describeEffects(d.details)}`;
    case 'remediation.failed':
      return `${`${d.action} FAILED`.padEnd(20)}${target}  ${d.error ? d.error.message : ''}`;
    case 'remediation.verified':
      return `${`${d.action} verified`.padEnd(20)}${target}  ${Math.round(d.timeToRemediateMs)} ms from the incident to verification`;
    case 'remediation.verification_failed':
      return `${`${d.action} NOT VERIFIED`.padEnd(20)}${target}  ${d.reason}`;
    case 'compliance.action_refused':
      return `compliance refusal  ${target}  ${d.rule}: ${d.reason}`;
    default:
      return `${event.type.padEnd(20)} ${target}`;
  }
}

/** What the driver did, as it reported it: ` (restarted patient-api-1 pid 123; …)`, and by which agent when it says. */
function describeEffects(details) {
  const effects = details && Array.isArray(details.effects) ? details.effects : [];
  if (effects.length === 0) return '';
  const one = (e) => `${e.verb} ${e.object}${detailOf(e.detail || {})}`;
  return ` (${effects.map(one).join('; ')}${details.agentId ? `; by agent ${details.agentId}` : ''})`;
}

/** The part of an effect's detail worth a glance: the new pid, a throttle's limit, a scale_out's count. */
function detailOf(d) {
  const parts = [];
  if (d.pid) parts.push(` pid ${d.pid}`);
  if (d.to && d.to.pid) parts.push(` to pid ${d.to.pid}`);
  if (d.toRegion) parts.push(` to ${d.toRegion}`);
  if (d.limitPerSecond !== undefined) parts.push(` to ${d.limitPerSecond}/s until ${String(d.appliedUntil).slice(11, 19)}`);
  if (d.instances !== undefined) parts.push(`, ${d.instances} instances`);
  return parts.join('');
}

/** Connects as the `event-feed` identity: `{ NATS_URL, NATS_NKEY_SEED_FILE, NATS_TLS_CA_FILE }` (see tools/dev/nats-dev.js). */
async function startEventFeed(natsEnv) {
  const nc = await connect({
    ...natsCredentialOptions({ nkeySeedFile: natsEnv.NATS_NKEY_SEED_FILE, tlsCaFile: natsEnv.NATS_TLS_CA_FILE }),
    servers: natsEnv.NATS_URL,
    name: 'autoheal-event-feed',
    maxReconnectAttempts: -1,
  });
  const subs = ['incident.>', 'remediation.>', 'compliance.>'].map((subject) =>
    nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const event = JSON.parse(new TextDecoder().decode(msg.data));
          console.log(`${new Date().toISOString().slice(11, 23)}  ${describe(event)}`);
        } catch {
          /* not ours to judge: consumers dead-letter invalid events */
        }
      },
    }),
  );
  return { stop: async () => { subs.forEach((s) => s.unsubscribe()); await nc.drain(); } };
}

module.exports = { startEventFeed, describe };
