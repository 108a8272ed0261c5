// Development signing keys for `npm start` and the end-to-end tests: one Ed25519 key per
// service and for the demo fleet's agent, and the trust file listing them (made by
// @autoheal/security's ensureDevKeySet, which the tests' key helper also uses). Kept across runs.
'use strict';
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO_AGENT_ID = 'demo-fleet';
const IDENTITY_OF = { auditor: 'auditor', detector: 'detector', decision: 'decision', executor: 'executor', agent: `agent:${DEMO_AGENT_ID}` };

/**
 * Ensures the keys in `keysDir`, gives each process of `table` its own AUTOHEAL_SIGNING_KEY_FILE,
 * and returns what every process shares: the trust file, the agent's id and the executor's
 * target → agent mapping (the demo fleet's one agent runs every target).
 */
function addSigningKeys(table, keysDir) {
  // The built library, by path: under Jest a require of @autoheal/security maps to the TypeScript source.
  const { ensureDevKeySet } = require(path.join(ROOT, 'libs/security/dist/index.js'));
  const set = ensureDevKeySet(keysDir, Object.values(IDENTITY_OF));
  for (const [name, spec] of Object.entries(table)) spec.env = { ...spec.env, AUTOHEAL_SIGNING_KEY_FILE: set.keyFiles[IDENTITY_OF[name]] };
  return { AUTOHEAL_TRUST_FILE: set.trustFile, AGENT_ID: DEMO_AGENT_ID, EXECUTOR_TARGET_AGENTS: `*=${DEMO_AGENT_ID}` };
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

module.exports = { addSigningKeys, signingEnvFor, eventSignerFor, DEMO_AGENT_ID };
