// The container image (Jest project `image`, run alone by `npm test`): built from the Dockerfile with buildah (base images bootstrapped locally
// from Debian, no registry), then its entry point started as the executor against a real
// nats-server and Postgres until liveness and readiness answer. No container runtime is installed
// here: `buildah run --isolation chroot` runs the image's root filesystem in a chroot that shares
// the host's network — the image's files, user, environment and entry point are what this shows.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, createTestKeys, expectEventually, freePort, listeningAddresses, startNatsServer, type NatsServerHandle, type TestDatabase, type TestKeys } from '@autoheal/testing';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildImage, VERSION } = require('../../tools/image/build.js') as { buildImage: (o: { log: (line: string) => void }) => Promise<string>; VERSION: string };

const ROOT = join(__dirname, '..', '..');
const LOG_DIR = join(ROOT, '.autoheal', 'image-test');
const IMAGE_USER = 10001;

// Cold (no base image in buildah's store yet): a Debian bootstrap plus a full build, many minutes
// on a loaded 2-core machine; warm: the build's layers.
jest.setTimeout(45 * 60_000);

function buildah(args: string[]): string {
  const result = spawnSync('buildah', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`buildah ${args.join(' ')} exited with ${result.status}: ${result.stderr}`);
  return result.stdout;
}

interface ImageConfig {
  config: { User?: string; Env?: string[]; Entrypoint?: string[]; Cmd?: string[]; Labels?: Record<string, string>; WorkingDir?: string };
}

let image: string;
let buildSeconds: number;

beforeAll(async () => {
  rmSync(LOG_DIR, { recursive: true, force: true });
  const buildLog = join(LOG_DIR, 'build.log');
  mkdirSync(LOG_DIR, { recursive: true });
  const fd = openSync(buildLog, 'w');
  const started = Date.now();
  try {
    image = await buildImage({ log: (line) => writeFileSync(fd, line) });
  } catch (error) {
    closeSync(fd);
    throw new Error(`${(error as Error).message}; last lines of ${buildLog}:\n${readFileSync(buildLog, 'utf8').split('\n').slice(-30).join('\n')}`);
  }
  closeSync(fd);
  buildSeconds = (Date.now() - started) / 1000;
  process.stdout.write(`image ${image} built in ${buildSeconds.toFixed(0)} s (log: ${buildLog})\n`);
});

describe('the container image', () => {
  it('carries the version (label, environment, tag), runs as a numeric non-root user, and starts through its entry point', () => {
    const inspected = JSON.parse(buildah(['inspect', '--type', 'image', image])) as { OCIv1: ImageConfig };
    const config = inspected.OCIv1.config;
    expect(image).toBe(`localhost/autoheal:${VERSION}`);
    expect(config.Labels?.['org.opencontainers.image.version']).toBe(VERSION);
    expect(config.Env).toEqual(expect.arrayContaining([`AUTOHEAL_VERSION=${VERSION}`, 'HTTP_HOST=0.0.0.0', 'NODE_ENV=production']));
    expect(config.User).toBe(`${IMAGE_USER}:${IMAGE_USER}`);
    expect(config.Entrypoint).toEqual(['/usr/bin/node', '/app/entrypoint.js']);
  });

  describe('its entry point', () => {
    let container: string;
    beforeAll(() => {
      container = buildah(['from', image]).trim();
    });
    afterAll(() => {
      if (container) spawnSync('buildah', ['rm', container]);
    });

    const runEntrypoint = (args: string[]) => {
      const config = (JSON.parse(buildah(['inspect', '--type', 'image', image])) as { OCIv1: ImageConfig }).OCIv1.config;
      return spawnSync('buildah', ['run', '--isolation', 'chroot', container, '--', ...config.Entrypoint!, ...args], { encoding: 'utf8' });
    };

    it('prints the version, and refuses an unknown app naming the ones it has', () => {
      const version = runEntrypoint(['--version']);
      expect({ status: version.status, out: version.stdout.trim() }).toEqual({ status: 0, out: VERSION });
      const unknown = runEntrypoint(['nonesuch']);
      expect(unknown.status).toBe(64);
      expect(unknown.stderr).toMatch(/unknown app "nonesuch"/);
      expect(unknown.stderr).toMatch(/apps in this image: .*auditor.*decision.*detector.*executor/);
    });

    describe('started as the executor against a real nats-server and Postgres', () => {
      let nats: NatsServerHandle;
      let db: TestDatabase;
      let keys: TestKeys;
      let secrets: string;
      let service: ChildProcess | undefined;
      const serviceLog = join(LOG_DIR, 'executor.log');

      beforeAll(async () => {
        [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
        keys = createTestKeys(['executor', 'agent:demo-fleet']);
        // The image's user must be able to read its key: a directory of its own, as a Secret volume would be.
        secrets = mkdtempSync(join(tmpdir(), 'autoheal-image-keys-'));
        const env = keys.env('executor');
        copyFileSync(env.AUTOHEAL_SIGNING_KEY_FILE, join(secrets, 'key.pem'));
        copyFileSync(env.AUTOHEAL_TRUST_FILE, join(secrets, 'trust.json'));
        for (const file of ['', ...readdirSync(secrets)]) chownSync(join(secrets, file), IMAGE_USER, IMAGE_USER);
      });

      afterAll(async () => {
        if (service?.pid && service.exitCode === null) {
          const exited = new Promise((resolve) => service!.once('exit', resolve));
          process.kill(-service.pid, 'SIGTERM');
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
          if (service.exitCode === null) process.kill(-service.pid, 'SIGKILL');
        }
        await nats?.stop();
        await db?.drop();
        keys?.remove();
        if (secrets) rmSync(secrets, { recursive: true, force: true });
      });

      it('answers liveness and readiness on the port it was given, as its own non-root user', async () => {
        const port = await freePort();
        const config = (JSON.parse(buildah(['inspect', '--type', 'image', image])) as { OCIv1: ImageConfig }).OCIv1.config;
        const env = {
          DATABASE_URL: db.roleUrl('executor'),
          NATS_URL: nats.url,
          AUTOHEAL_SIGNING_KEY_FILE: '/run/autoheal/key.pem',
          AUTOHEAL_TRUST_FILE: '/run/autoheal/trust.json',
          EXECUTOR_TARGET_AGENTS: '*=demo-fleet',
          EXECUTOR_PORT: String(port),
          // The chroot shares this machine's network: serve loopback only, not the image's 0.0.0.0.
          HTTP_HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
        };
        const args = ['run', '--isolation', 'chroot', '-v', `${secrets}:/run/autoheal:ro`, ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), container, '--', ...config.Entrypoint!, 'executor'];
        const out = openSync(serviceLog, 'w');
        service = spawn('buildah', args, { detached: true, stdio: ['ignore', out, out] });
        closeSync(out);
        const tail = () => readFileSync(serviceLog, 'utf8').split('\n').slice(-20).join('\n');

        await expectEventually(
          async () => {
            if (service?.exitCode !== null) throw new Error(`the executor exited with ${service?.exitCode}:\n${tail()}`);
            const live = await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(5_000) });
            expect(live.status).toBe(200);
          },
          { timeoutMs: 180_000, intervalMs: 500 },
        ).catch((error: Error) => {
          throw new Error(`${error.message}\nlast lines of ${serviceLog}:\n${tail()}`);
        });
        const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
        expect({ status: ready.status, body: await ready.json() }).toMatchObject({ status: 200, body: { status: 'ok', checks: { postgres: { ok: true }, nats: { ok: true } } } });
        expect(listeningAddresses(port)).toEqual(['127.0.0.1']);
        // The process serving it (node running the entry point; not buildah, which started it) runs as the image's user, not root.
        const serving = readdirSync('/proc')
          .filter((pid) => /^\d+$/.test(pid))
          .filter((pid) => {
            try {
              const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
              return argv[0] === '/usr/bin/node' && argv[1] === '/app/entrypoint.js' && argv[2] === 'executor';
            } catch {
              return false;
            }
          })
          .map((pid) => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
        expect(serving).toEqual([String(IMAGE_USER)]);
      });
    });
  });
});
