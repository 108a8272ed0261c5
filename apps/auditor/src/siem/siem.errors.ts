/** Why a session with the SIEM's receiver did not deliver; the metric's `reason` label. */
export enum SiemErrorCode {
  /** The TCP connection could not be made (refused, unreachable, reset before the handshake). */
  Connect = 'connect',
  /** The TLS handshake failed: above all, a certificate that does not chain to the configured CA or names another host. */
  Tls = 'tls',
  /** The connection broke, or the receiver closed it, before it confirmed every byte (see siem-transport.ts). */
  Unconfirmed = 'unconfirmed',
  /** No confirmation within AUDITOR_SIEM_TIMEOUT_MS. */
  Timeout = 'timeout',
  /** The rows read do not follow the cursor (a gap): nothing is sent past it. */
  Gap = 'gap',
  /** The database did not answer (reading rows or moving the cursor). */
  Database = 'database',
}

export class SiemError extends Error {
  constructor(
    readonly code: SiemErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SiemError';
  }
}
