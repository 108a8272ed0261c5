#!/usr/bin/env node
import { resolve } from 'node:path';
import { agentIdentity, loadSigningKey, loadTrustStore } from '@autoheal/security';
import { createLogger } from './logger.js';
import { configPath, loadAgentConfig } from './config/agent-config.js';
import { startAgent } from './agent.js';

/** `autoheal-agent --config <file>` (or AUTOHEAL_AGENT_CONFIG): see the README for the file. */
async function main(): Promise<void> {
  const config = loadAgentConfig(configPath(process.argv.slice(2), process.env));
  const logger = createLogger('autoheal-agent', { agentId: config.agentId });
  const key = loadSigningKey(config.signing.keyFile);
  const trust = loadTrustStore(config.signing.trustFile);
  const listedAs = trust.keys.get(key.keyId)?.identity;
  if (listedAs !== agentIdentity(config.agentId)) {
    throw new Error(`the key in ${config.signing.keyFile} (${key.keyId}) is ${listedAs ? `trusted as ${listedAs}` : 'not in the trust file'}, expected agent:${config.agentId}`);
  }
  const agent = await startAgent({
    natsUrl: config.nats.url,
    credentials: { nkeySeedFile: config.nats.nkeySeedFile, tlsCaFile: config.nats.tlsCaFile },
    producerSeedDir: config.producerSeedDir,
    services: config.services,
    stateDir: resolve(config.stateDir),
    readyTimeoutMs: config.readyTimeoutMs,
    ackTimeoutMs: config.ackTimeoutMs,
    chaos: config.chaos,
    logger,
    signing: { agentId: config.agentId, key, trust, maxSkewMs: config.signing.maxCommandSkewMs },
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
