import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { AuditorConfig } from '../config.js';
import { parseSiemUrl, type SiemEndpoint } from './siem-transport.js';
import type { SyslogOptions } from './syslog-format.js';

/** The forwarder's settings, from the configuration and the files it names; null when forwarding is off. */
export interface SiemSettings {
  destination: string;
  endpoint: SiemEndpoint;
  syslog: SyslogOptions;
  batchSize: number;
  pollMs: number;
  backoffMaxMs: number;
}

export const SIEM_SETTINGS = Symbol('SIEM_SETTINGS');

export const SIEM_APP_NAME = 'autoheal-auditor';

/** Reads the CA and client certificate at boot, so a missing or unreadable file stops the boot, naming the variable. */
export function siemSettings(config: AuditorConfig): SiemSettings | null {
  if (config.AUDITOR_SIEM_URL === undefined) return null;
  const read = (variable: keyof AuditorConfig, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${variable}: cannot read ${file}: ${(error as Error).message}`);
    }
  };
  return {
    destination: config.AUDITOR_SIEM_NAME,
    endpoint: {
      ...parseSiemUrl(config.AUDITOR_SIEM_URL),
      ca: read('AUDITOR_SIEM_CA_FILE', config.AUDITOR_SIEM_CA_FILE)!,
      cert: read('AUDITOR_SIEM_CERT_FILE', config.AUDITOR_SIEM_CERT_FILE),
      key: read('AUDITOR_SIEM_KEY_FILE', config.AUDITOR_SIEM_KEY_FILE),
      timeoutMs: config.AUDITOR_SIEM_TIMEOUT_MS,
    },
    syslog: {
      format: config.AUDITOR_SIEM_FORMAT,
      hostname: config.AUDITOR_SIEM_HOSTNAME ?? hostname(),
      appName: SIEM_APP_NAME,
      facility: config.AUDITOR_SIEM_FACILITY,
    },
    batchSize: config.AUDITOR_SIEM_BATCH_SIZE,
    pollMs: config.AUDITOR_SIEM_POLL_MS,
    backoffMaxMs: config.AUDITOR_SIEM_BACKOFF_MAX_MS,
  };
}
