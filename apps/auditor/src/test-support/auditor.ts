// Shared by the auditor's integration tests (excluded from the build).
import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { createTestKeys, roleUrl, type TestKeys } from '@autoheal/testing';
import { createAuditorApp } from '../auditor.app.js';
import { loadConfig, type AuditorConfig } from '../config.js';

export const OPS_KEY = 'ops_it_key_0123456789abcdef';
export const ACME_KEY = 'tnt_it_acme_0123456789abcdef';
export const GLOBEX_KEY = 'tnt_it_globex_0123456789abcdef';

export interface RunningAuditor {
  app: INestApplication;
  config: AuditorConfig;
  baseUrl: string;
  /** Every service's signing key: tests publish control events in their stead (publishSigned). */
  keys: TestKeys;
  stop(): Promise<void>;
}

/**
 * The auditor as main.ts wires it (HTTP on a free port plus its JetStream consumers), in-process.
 * Its reads log in as the reader role of the same database, as in production.
 */
export async function startAuditor(env: { databaseUrl: string; natsUrl: string; extraEnv?: Record<string, string>; keys?: TestKeys }): Promise<RunningAuditor> {
  // Keys given by the caller outlive this auditor (a test restarting it); its own go with it.
  const keys = env.keys ?? createTestKeys();
  const config = loadConfig({
    DATABASE_URL: env.databaseUrl,
    DATABASE_READER_URL: roleUrl(env.databaseUrl, 'auditorReader'),
    ...keys.env('auditor'),
    NATS_URL: env.natsUrl,
    AUDITOR_PORT: '0',
    AUDITOR_OPS_API_KEY: OPS_KEY,
    AUDITOR_TENANT_API_KEYS: `acme=${ACME_KEY},globex=${GLOBEX_KEY}`,
    ...env.extraEnv,
  });
  const app = await createAuditorApp(config, { nestLogs: false });
  await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  const baseUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    config,
    baseUrl,
    keys,
    stop: async () => {
      await app.close();
      if (env.keys === undefined) keys.remove();
    },
  };
}

export function incidentOpened(tenantId: string, incidentId: string = randomUUID(), instance = 'api-1'): Envelope<'incident.opened'> {
  const now = new Date().toISOString();
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector',
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance, kind: 'heartbeat_missed', severity: 'major', signalAt: now, detectedAt: now, detectionLatencyMs: 4, evidence: { missed: 3 } },
  });
}

export function remediationSucceeded(tenantId: string, incidentId: string, causationId: string | null = null): Envelope<'remediation.succeeded'> {
  return newEvent('remediation.succeeded', {
    tenantId,
    producer: 'executor',
    correlationId: incidentId,
    causationId,
    data: { remediationId: randomUUID(), incidentId, service: 'api', instance: 'api-1', action: 'restart', durationMs: 812, details: { pid: 4242 } },
  });
}

export function complianceRefused(tenantId: string, incidentId: string): Envelope<'compliance.action_refused'> {
  return newEvent('compliance.action_refused', {
    tenantId,
    producer: 'decision',
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance: 'api-1', action: 'restart', rule: 'change_freeze', reason: 'inside a change freeze', policyVersion: 'p1' },
  });
}
