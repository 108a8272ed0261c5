// Every service's HTTP edge as main.ts starts it: bound to loopback unless HTTP_HOST says
// otherwise, liveness apart from readiness, against a real Postgres and nats-server.
import type { INestApplication } from '@nestjs/common';
import { listenHttp } from '@autoheal/http';
import { createTestDatabase, createTestKeys, expectProbesFollowDependencies, listeningAddresses, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { loadConfig } from './config.js';
import { startDetectorApp } from './detector.app.js';

describe('detector HTTP: binding, liveness and readiness', () => {
  const keys = createTestKeys();
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let app: INestApplication | undefined;
  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
  });

  afterAll(async () => {
    await app?.close();
    await nats?.stop();
    await db?.drop();
    keys.remove();
  });

  it('binds 127.0.0.1 when HTTP_HOST is unset, answers liveness without checking dependencies, and readiness only while Postgres and NATS answer (a frozen NATS server: 503, then 200 again)', async () => {
    // No HTTP_HOST in this environment: the default applies.
    const config = loadConfig({
      DATABASE_URL: db.roleUrl('detector'),
      ...keys.env('detector'),
      NATS_URL: nats.url,
      DETECTOR_PORT: '0',
    });
    expect(config.HTTP_HOST).toBe('127.0.0.1');
    app = await startDetectorApp(config);
    const address = await listenHttp(app, { port: config.DETECTOR_PORT, host: config.HTTP_HOST });
    expect(listeningAddresses(address.port)).toEqual(['127.0.0.1']);

    await expectProbesFollowDependencies(`http://127.0.0.1:${address.port}`, nats);
  });
});
