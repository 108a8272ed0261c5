// Shared by the decision service's integration tests (excluded from the build).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, createTestKeys, startNatsServer, type NatsServerHandle, type TestDatabase, type TestKeys } from '@autoheal/testing';
import type { Clock } from '../clock.js';
import { loadConfig, type DecisionConfig } from '../config.js';
import { createDecisionApp } from '../decision.app.js';
import type { SecretResolver } from '../escalations/deliveries.worker.js';

/** Every background worker off: a test that wants one runs its tick() itself, or turns it on through `env`. */
export const WORKERS_OFF = {
  DECISION_DELIVERY_INTERVAL_MS: '0',
  DECISION_COMPLIANCE_INTERVAL_MS: '0',
  DECISION_METRICS_INTERVAL_MS: '0',
  DECISION_SWEEP_INTERVAL_MS: '0',
  DECISION_DEFER_INTERVAL_MS: '0',
  DECISION_VERIFY_INTERVAL_MS: '0',
  DECISION_SCALE_IN_INTERVAL_MS: '0',
  DECISION_ARM_INTERVAL_MS: '0',
} as const;

/** Only suspected faults open the breaker, never a share of a small (or deliberately failing) test fleet. */
export const FLEET_BREAKER_OFF = {
  DECISION_BREAKER_FLEET_SHARE: '1',
  DECISION_BREAKER_MIN_INSTANCES: '1000',
} as const;

export interface DecisionTestEnvOptions {
  /** Boot tenant documents, written to `<dir>/tenants.json`; without them the service boots from an empty `<dir>/boot` directory. */
  documents?: readonly unknown[];
  /** Prefix of the temporary directory. */
  prefix?: string;
  /** Extra configuration, over DATABASE_URL, NATS_URL, the boot documents and WORKERS_OFF. */
  env?: Record<string, string>;
  /** Open a JetStream client (`nc`, `jsm`) under this connection name. */
  natsClient?: string;
}

export interface BootOptions {
  clock?: Clock;
  secrets?: SecretResolver;
  /** Start the JetStream consumers (app.startAllMicroservices()). */
  consume?: boolean;
  /** Serve HTTP on a free local port and return its `baseUrl`. */
  listen?: boolean;
  /** Boot documents for this app only (rewrites `<dir>/tenants.json`). */
  documents?: readonly unknown[];
  /** Configuration over the environment's, for this app only. */
  env?: Record<string, string>;
  /** Called after the app is created and before app.init(). */
  beforeInit?: (app: INestApplication) => void | Promise<void>;
}

export interface BootedApp {
  app: INestApplication;
  config: DecisionConfig;
  baseUrl?: string;
  /** Closes the app; stop() closes any app still open. */
  close(): Promise<void>;
}

export interface DecisionTestEnv {
  nats: NatsServerHandle;
  db: TestDatabase;
  /** A Postgres client on the test database. */
  pg: Client;
  nc?: NatsConnection;
  jsm?: JetStreamManager;
  /** The temporary directory; the tests may write their own files in it. */
  dir: string;
  /** The configuration apps boot with (unless boot() overrides it). */
  config: DecisionConfig;
  /** The signing keys of every service (publishSigned puts events on the bus in their stead). */
  keys: TestKeys;
  /** Creates a decision app on this database and nats-server; it is closed by stop() if not before. */
  boot(options?: BootOptions): Promise<BootedApp>;
  /** Closes what is open, in the order: apps, pg, nc, nats-server, database, directory. */
  stop(): Promise<void>;
}

export interface DecisionTestApp extends Omit<DecisionTestEnv, 'boot'>, BootedApp {}

/** `nc` and `jsm` are there when a JetStream client was asked for. */
export type WithNatsClient<O> = O extends { natsClient: string } ? { nc: NatsConnection; jsm: JetStreamManager } : unknown;
/** `baseUrl` is there when the app listens. */
export type WithBaseUrl<O> = O extends { listen: true } ? { baseUrl: string } : unknown;

/** nats-server, a test database, boot documents, a pg client and (optionally) a JetStream client, without an app yet. */
export async function startDecisionTestEnv<O extends DecisionTestEnvOptions>(options: O = {} as O): Promise<DecisionTestEnv & WithNatsClient<O>> {
  let nats: NatsServerHandle | undefined;
  let db: TestDatabase | undefined;
  let pg: Client | undefined;
  let nc: NatsConnection | undefined;
  let dir: string | undefined;
  const open = new Set<BootedApp>();
  // Keys for the service and for tests publishing in another service's stead (publishSigned).
  const testKeys = createTestKeys();

  const stop = async (): Promise<void> => {
    for (const booted of [...open]) await booted.close();
    await pg?.end();
    if (nc) await closeNats(nc);
    await nats?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    testKeys.remove();
  };

  try {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    const tmp = mkdtempSync(join(tmpdir(), options.prefix ?? 'decision-test-'));
    dir = tmp;
    const documentsFile = join(tmp, 'tenants.json');
    const writeDocuments = (documents: readonly unknown[]) => writeFileSync(documentsFile, JSON.stringify(documents));
    let tenantsDir = documentsFile;
    if (options.documents) writeDocuments(options.documents);
    else mkdirSync((tenantsDir = join(tmp, 'boot')));
    const baseEnv = { DATABASE_URL: db.roleUrl('decision'), DATABASE_READER_URL: db.roleUrl('decisionReader'), ...testKeys.env('decision'), NATS_URL: nats.url, DECISION_TENANTS_DIR: tenantsDir, ...WORKERS_OFF, ...options.env };
    const config = loadConfig(baseEnv);

    const boot = async (bootOptions: BootOptions = {}): Promise<BootedApp> => {
      if (bootOptions.documents) writeDocuments(bootOptions.documents);
      const appConfig = bootOptions.env || bootOptions.documents ? loadConfig({ ...baseEnv, DECISION_TENANTS_DIR: documentsFile, ...bootOptions.env }) : config;
      const app = await createDecisionApp(appConfig, { clock: bootOptions.clock, secrets: bootOptions.secrets, nestLogs: false });
      let closed: Promise<void> | undefined;
      const booted: BootedApp = {
        app,
        config: appConfig,
        close: () => {
          open.delete(booted);
          return (closed ??= app.close());
        },
      };
      open.add(booted);
      await bootOptions.beforeInit?.(app);
      await app.init();
      if (bootOptions.consume) await app.startAllMicroservices();
      if (bootOptions.listen) {
        await app.listen(0, '127.0.0.1');
        booted.baseUrl = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
      }
      return booted;
    };

    pg = new Client({ connectionString: db.url });
    await pg.connect();
    let jsm: JetStreamManager | undefined;
    if (options.natsClient) {
      nc = await connectNats({ servers: nats.url, name: options.natsClient, onClosedForGood: () => undefined });
      jsm = await jetstreamManager(nc);
    }
    return { nats, db, pg, nc, jsm, dir: tmp, config, keys: testKeys, boot, stop } as DecisionTestEnv & WithNatsClient<O>;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The decision service booted on its own nats-server and test database, with every background
 * worker off unless `env` turns it on, as the integration tests use it.
 */
export async function startDecisionTestApp<O extends DecisionTestEnvOptions & Omit<BootOptions, 'documents' | 'env'>>(
  options: O = {} as O,
): Promise<DecisionTestApp & WithNatsClient<O> & WithBaseUrl<O>> {
  const { boot, ...env } = await startDecisionTestEnv(options);
  try {
    const { clock, secrets, consume, listen, beforeInit } = options;
    const booted = await boot({ clock, secrets, consume, listen, beforeInit });
    return { ...env, ...booted } as DecisionTestApp & WithNatsClient<O> & WithBaseUrl<O>;
  } catch (error) {
    await env.stop();
    throw error;
  }
}
