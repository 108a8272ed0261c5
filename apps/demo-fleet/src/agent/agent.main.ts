import { resolve } from 'node:path';
import { agentIdentity, loadSigningKey, loadTrustStore } from '@autoheal/security';
import { createLogger } from '../logger.js';
import { loadFleetFile } from '../fleet/fleet-file.js';
import { loadAgentConfig } from './agent.config.js';
import { startAgent } from './agent.js';

async function main(): Promise<void> {
  const config = loadAgentConfig();
  const logger = createLogger('demo-fleet-agent');
  const fleet = loadFleetFile(resolve(config.FLEET_FILE));
  const key = loadSigningKey(config.AUTOHEAL_SIGNING_KEY_FILE);
  const trust = loadTrustStore(config.AUTOHEAL_TRUST_FILE);
  const listedAs = trust.keys.get(key.keyId)?.identity;
  if (listedAs !== agentIdentity(config.AGENT_ID)) {
    throw new Error(`the key in ${config.AUTOHEAL_SIGNING_KEY_FILE} (${key.keyId}) is ${listedAs ? `trusted as ${listedAs}` : 'not in the trust file'}, expected agent:${config.AGENT_ID}`);
  }
  const agent = await startAgent({
    natsUrl: config.NATS_URL,
    credentials: { nkeySeedFile: config.NATS_NKEY_SEED_FILE, tlsCaFile: config.NATS_TLS_CA_FILE },
    producerSeedDir: config.AGENT_PRODUCER_SEED_DIR,
    fleet,
    basePort: config.FLEET_BASE_PORT,
    stateDir: resolve(config.AGENT_STATE_DIR),
    heartbeatMs: config.HEARTBEAT_MS,
    readyTimeoutMs: config.AGENT_READY_TIMEOUT_MS,
    ackTimeoutMs: config.AGENT_ACK_TIMEOUT_MS,
    apiServerEntry: config.API_SERVER_ENTRY,
    logger,
    signing: { agentId: config.AGENT_ID, key, trust, maxSkewMs: config.AGENT_COMMAND_MAX_SKEW_MS },
  });

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'stopping all instances');
    await agent.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  const closed = await agent.closed;
  if (!shuttingDown) {
    // Only reached when the connection is gone for good: exit non-zero so a supervisor restarts us.
    logger.fatal({ err: closed }, 'NATS connection closed');
    await agent.supervisor.stopAll();
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
