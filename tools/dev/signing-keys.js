// Development signing keys for `npm start` and the end-to-end tests: one Ed25519 key per
// service and per agent of the demo fleet, and the trust file listing them (made by
// @autoheal/security's ensureDevKeySet, which the tests' key helper also uses). Kept across runs.
'use strict';
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO_AGENT_ID = 'demo-fleet';
const IDENTITY_OF = { auditor: 'auditor', detector: 'detector', decision: 'decision', executor: 'executor', agent: `agent:${DEMO_AGENT_ID}` };

/** The identity a process of the system signs as: its name, or `agent:<id>` for an agent (spec.agentId). */
function identityOf(name, spec) {
  return spec.agentId ? `agent:${spec.agentId}` : IDENTITY_OF[name];
}

/**
 * Ensures the keys in `keysDir`, gives each process of `table` its own AUTOHEAL_SIGNING_KEY_FILE,
 * and returns what every process shares: the trust file, the demo fleet agent's id and the
 * executor's target → agent mapping (targetAgents).
 */
function addSigningKeys(table, keysDir, fleet) {
  // The built library, by path: under Jest a require of @autoheal/security maps to the TypeScript source.
  const { ensureDevKeySet } = require(path.join(ROOT, 'libs/security/dist/index.js'));
  const set = ensureDevKeySet(keysDir, Object.entries(table).map(([name, spec]) => identityOf(name, spec)));
  for (const [name, spec] of Object.entries(table)) spec.env = { ...spec.env, AUTOHEAL_SIGNING_KEY_FILE: set.keyFiles[identityOf(name, spec)] };
  return { AUTOHEAL_TRUST_FILE: set.trustFile, AGENT_ID: DEMO_AGENT_ID, EXECUTOR_TARGET_AGENTS: targetAgents(fleet) };
}

/**
 * EXECUTOR_TARGET_AGENTS for a fleet file: the demo fleet's agent runs every target but those of a
 * service the file gives a host agent of its own (`agentId`); a service's standby (`standby`) is
 * kept by its agent in its region, which takes the service's failovers into that region.
 */
function targetAgents(fleet) {
  const entries = [`*=${DEMO_AGENT_ID}`];
  for (const tenant of (fleet && fleet.tenants) || []) {
    for (const service of tenant.services) {
      if (service.agentId && service.agentId !== DEMO_AGENT_ID) entries.push(`${tenant.tenantId}/${service.service}=${service.agentId}`);
      if (service.standby) entries.push(`${tenant.tenantId}/${service.service}@${service.standby.region}=${service.standby.agentId}`);
    }
  }
  return entries.join(',');
}

/** For a tool that runs one service itself (the benches): the key set in `keysDir` and that service's two variables. */
function signingEnvFor(keysDir, identity) {
  const { ensureDevKeySet } = require(path.join(ROOT, 'libs/security/dist/index.js'));
  const set = ensureDevKeySet(keysDir, Object.values(IDENTITY_OF));
  return { AUTOHEAL_SIGNING_KEY_FILE: set.keyFiles[identity], AUTOHEAL_TRUST_FILE: set.trustFile };
}

/** A function that signs a control event's exact payload bytes as `identity` would: the two NATS header values. */
function eventSignerFor(keysDir, identity) {
  const security = require(path.join(ROOT, 'libs/security/dist/index.js'));
  const key = security.loadSigningKey(signingEnvFor(keysDir, identity).AUTOHEAL_SIGNING_KEY_FILE);
  return (bytes) => {
    const signed = security.signEventPayload(key, bytes);
    return { [security.SIGNATURE_HEADER]: signed.signature, [security.KEY_ID_HEADER]: signed.keyId };
  };
}

module.exports = { addSigningKeys, targetAgents, signingEnvFor, eventSignerFor, DEMO_AGENT_ID };
