import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { ensureDevCertificates } from '@autoheal/messaging';
import { SiemError, SiemErrorCode } from './siem.errors';
import { deliverSession, parseSiemUrl, type SiemEndpoint } from './siem-transport';

/**
 * What counts as delivered, against real TLS peers that behave as receivers do when they work,
 * hang or die. rsyslog itself is in siem.int-spec.ts; here each peer's behaviour is chosen, so
 * the cases that a restart only sometimes hits are hit every time.
 */
describe('deliverSession: a session is confirmed only by the receiver closing after reading everything', () => {
  let dir: string;
  let tls: { caFile: string; certFile: string; keyFile: string };
  const servers: Server[] = [];
  const sessions: TLSSocket[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'autoheal-siem-transport-'));
    tls = ensureDevCertificates(join(dir, 'ca'));
  });

  afterAll(async () => {
    // A paused session never sees its peer go: end them all, or close() would wait for ever.
    for (const socket of sessions) socket.destroy();
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A TLS server on a free port whose sessions `onSession` handles. */
  async function receiver(onSession: (socket: TLSSocket) => void): Promise<SiemEndpoint> {
    const server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (socket) => {
      sessions.push(socket);
      onSession(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return { host: '127.0.0.1', port: address.port, ca: readFileSync(tls.caFile), timeoutMs: 3000 };
  }

  const payload = Buffer.alloc(4 * 1024 * 1024, 'x');

  it('resolves when the receiver reads to the end and then closes, with every byte received', async () => {
    let received = 0;
    const endpoint = await receiver((socket) => {
      socket.on('data', (d: Buffer) => (received += d.length));
      socket.on('end', () => socket.end());
    });
    await deliverSession(endpoint, payload);
    expect(received).toBe(payload.length);
  });

  it('does not resolve for a receiver that takes the bytes but never closes (a hung receiver): timeout', async () => {
    // It stops reading after the handshake: our bytes and our close wait in its socket, unseen.
    const endpoint = await receiver((socket) => socket.pause());
    await expect(deliverSession(endpoint, Buffer.from('12 <14>1 - - - -'))).rejects.toMatchObject({ code: SiemErrorCode.Timeout });
  });

  it('rejects when the receiver dies with bytes unread (a reset, not an orderly close)', async () => {
    const endpoint = await receiver((socket) => socket.once('data', () => socket.destroy()));
    const error = await deliverSession(endpoint, payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SiemError);
    expect((error as SiemError).code).toBe(SiemErrorCode.Unconfirmed);
  });

  it('rejects a certificate from another CA before sending anything', async () => {
    let bytes = 0;
    const endpoint = await receiver((socket) => socket.on('data', (d: Buffer) => (bytes += d.length)));
    const other = ensureDevCertificates(join(dir, 'other-ca'));
    await expect(deliverSession({ ...endpoint, ca: readFileSync(other.caFile) }, payload)).rejects.toMatchObject({ code: SiemErrorCode.Tls });
    expect(bytes).toBe(0);
  });

  it('parses tls:// URLs only', () => {
    expect(parseSiemUrl('tls://siem.example:6514')).toEqual({ host: 'siem.example', port: 6514 });
    expect(parseSiemUrl('tls://[::1]:6514')).toEqual({ host: '::1', port: 6514 });
    expect(() => parseSiemUrl('tcp://siem.example:514')).toThrow(/tls:\/\/host:port/);
    expect(() => parseSiemUrl('tls://siem.example:70000')).toThrow(/port out of range/);
  });
});
