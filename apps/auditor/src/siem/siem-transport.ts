import { isIP } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import { SiemError, SiemErrorCode } from './siem.errors.js';

/** Where and how to reach the receiver. */
export interface SiemEndpoint {
  host: string;
  port: number;
  /** The CA its certificate must chain to (the system's trust store is not used). */
  ca: Buffer;
  /** Client certificate and key, when the receiver authenticates senders. */
  cert?: Buffer;
  key?: Buffer;
  timeoutMs: number;
}

/** `tls://host:port` → host and port (IPv6 in brackets). */
export function parseSiemUrl(url: string): { host: string; port: number } {
  const m = /^tls:\/\/(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(url);
  if (!m) throw new Error(`not a tls://host:port URL: ${url}`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`port out of range in ${url}`);
  return { host: m[1] ?? m[2], port };
}

/** TLS errors that are about who the receiver is (its certificate), not about reaching it. */
const CERTIFICATE_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_|ALTNAME|HOSTNAME|SSL|TLS|ERR_SSL/;

/**
 * One session: connect over TLS (the receiver's certificate verified against `ca` and the host
 * name), write `frames`, close our side, and resolve only once the receiver has closed its side
 * in turn with no error.
 *
 * Why a session per batch: syslog over TLS (RFC 5425) has no acknowledgement, and a write that
 * returned only means the bytes reached our kernel; a receiver that dies then loses them, and
 * the sender learns it on a later write, if ever. What TCP does tell us: a receiver that closes a
 * connection with bytes it has not read answers with a reset (RST), not an orderly close (FIN).
 * So once we have sent everything and our close (TLS close_notify, then FIN), the receiver's
 * orderly close after ours means its program read every byte up to our close. That is the
 * confirmation the cursor waits for; anything else (reset, error, the receiver closing first,
 * timeout) rejects, and the caller sends the same rows again later (at least once).
 */
export function deliverSession(endpoint: SiemEndpoint, frames: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const options: ConnectionOptions = {
      host: endpoint.host,
      port: endpoint.port,
      ca: endpoint.ca,
      cert: endpoint.cert,
      key: endpoint.key,
      // SNI carries a name, never an address; the certificate is checked against the host either way.
      servername: isIP(endpoint.host) === 0 ? endpoint.host : undefined,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    };
    let secured = false;
    let sentAll = false;
    let peerClosedFirst = false;
    let peerEnded = false;
    let settled = false;
    const socket = connect(options);
    const finish = (error: SiemError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new SiemError(SiemErrorCode.Timeout, `no confirmation from ${endpoint.host}:${endpoint.port} within ${endpoint.timeoutMs} ms`)),
      endpoint.timeoutMs,
    );
    socket.once('secureConnect', () => {
      secured = true;
      socket.write(frames, (error) => {
        if (error) return finish(new SiemError(SiemErrorCode.Unconfirmed, `write failed: ${error.message}`));
        sentAll = true;
        socket.end();
      });
    });
    // The receiver sends nothing in syslog; read whatever comes so that its close is seen.
    socket.on('data', () => undefined);
    socket.on('end', () => {
      peerEnded = true;
      if (!sentAll) peerClosedFirst = true;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      if (!secured && (CERTIFICATE_ERRORS.test(code) || /certificate|altnames|self.signed/i.test(error.message))) {
        return finish(new SiemError(SiemErrorCode.Tls, `TLS handshake with ${endpoint.host}:${endpoint.port} refused: ${code} ${error.message}`));
      }
      if (!secured) return finish(new SiemError(SiemErrorCode.Connect, `cannot reach ${endpoint.host}:${endpoint.port}: ${code} ${error.message}`));
      return finish(new SiemError(SiemErrorCode.Unconfirmed, `connection broke before the receiver confirmed: ${code} ${error.message}`));
    });
    socket.on('close', (hadError) => {
      if (hadError) return; // reported by 'error'
      if (sentAll && peerEnded && !peerClosedFirst) return finish(null);
      finish(
        new SiemError(
          secured ? SiemErrorCode.Unconfirmed : SiemErrorCode.Connect,
          peerClosedFirst ? 'the receiver closed the connection before reading everything' : 'the connection closed before the receiver confirmed',
        ),
      );
    });
  });
}
