import { resolve } from 'node:path';
import { createLogger } from '../logger.js';
import { loadFleetFile } from '../fleet/fleet-file.js';
import { loadAgentConfig } from './agent.config.js';
import { startAgent } from './agent.js';

async function main(): Promise<void> {
  const config = loadAgentConfig();
  const logger = createLogger('demo-fleet-agent');
  const fleet = loadFleetFile(resolve(config.FLEET_FILE));
  const agent = await startAgent({
    natsUrl: config.NATS_URL,
    credentials: { nkeySeedFile: config.NATS_NKEY_SEED_FILE, tlsCaFile: config.NATS_TLS_CA_FILE },
    producerSeedDir: config.AGENT_PRODUCER_SEED_DIR,
    fleet,
    basePort: config.FLEET_BASE_PORT,
    stateDir: resolve(config.AGENT_STATE_DIR),
    heartbeatMs: config.HEARTBEAT_MS,
    readyTimeoutMs: config.AGENT_READY_TIMEOUT_MS,
    apiServerEntry: config.API_SERVER_ENTRY,
    logger,
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
