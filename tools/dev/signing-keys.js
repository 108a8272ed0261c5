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

module.exports = { addSigningKeys, DEMO_AGENT_ID };
