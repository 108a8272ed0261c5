// The cost of signing control events, commands and replies, measured in the bench's own run:
// Ed25519 sign and verify over a control event's payload (one envelope, as the services
// publish it), through the same functions the services use.
'use strict';
const path = require('node:path');
const { percentile, fmt } = require('./support.js');

const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;

const ROOT = path.resolve(__dirname, '..', '..');

/** Per-operation sign and verify times (ms), `samples` of each after a warm-up. */
function measureSigningCost(samples = 5_000) {
  const security = require(path.join(ROOT, 'libs/security/dist/index.js'));
  const { newEvent, newEventId } = require(path.join(ROOT, 'libs/contracts/dist/index.js'));
  const key = security.generateSigningKey().key;
  const trust = security.parseTrustStore({ keys: [{ keyId: key.keyId, identity: 'decision', publicKey: security.publicKeyToBase64(key.publicKey) }] });
  const incidentId = newEventId();
  const event = newEvent('remediation.planned', {
    tenantId: 'bench',
    producer: 'decision',
    correlationId: incidentId,
    data: {
      remediationId: newEventId(),
      incidentId,
      service: 'api',
      instance: 'api-1',
      action: 'restart',
      policyVersion: 'sha256:0123456789abcdef0123456789abcdef',
      reason: 'restart is the first candidate the profile allows',
      candidates: [{ action: 'restart', allowed: true, reason: 'allowed automatically' }],
    },
  });
  const bytes = new TextEncoder().encode(JSON.stringify(event));
  const sign = [];
  const verify = [];
  const now = new Date();
  for (let i = 0; i < samples + 500; i++) {
    const t0 = performance.now();
    const signed = security.signEventPayload(key, bytes);
    const t1 = performance.now();
    const verdict = security.verifyEventProvenance(trust, { payload: bytes, signature: signed.signature, keyId: signed.keyId, type: event.type, producer: event.producer }, now);
    const t2 = performance.now();
    if (!verdict.ok) throw new Error(`signing bench: own signature refused (${verdict.reason})`);
    if (i >= 500) {
      sign.push(t1 - t0);
      verify.push(t2 - t1);
    }
  }
  return { sign, verify, payloadBytes: bytes.length };
}

/**
 * Prints the per-hop cost and what it adds to the restart path: incident.opened and
 * remediation.planned (signed, verified by the next service), the command and the agent's
 * reply (signed, verified), remediation.succeeded (signed; the bench sees it on NATS).
 */
function printSigningCost(cost, restartP50) {
  const s50 = percentile(cost.sign, 50);
  const v50 = percentile(cost.verify, 50);
  const hops = 4;
  const added = hops * (s50 + v50) + s50;
  console.log(`\nsigning (Ed25519, ${cost.payloadBytes}-byte envelope, ${cost.sign.length} samples): sign p50 ${us(s50)}, p99 ${us(percentile(cost.sign, 99))}; verify p50 ${us(v50)}, p99 ${us(percentile(cost.verify, 99))}`);
  console.log(`  per hop (sign + verify) p50 ${us(s50 + v50)}; on the path to "restart done": ${hops} hops (incident, plan, command, reply) + 1 sign (succeeded) = ${us(added)} per incident`);
  console.log(`  goal: the pipeline's p50 moves by less than 0.5 ms — ${added < 0.5 ? 'met' : 'NOT met'} (${us(added)} against a restart-done p50 of ${fmt(restartP50).trim()})`);
}

module.exports = { measureSigningCost, printSigningCost };
