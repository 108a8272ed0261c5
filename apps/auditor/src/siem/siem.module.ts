import { Module } from '@nestjs/common';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import type { AuditorConfig } from '../config.js';
import { SiemForwarder } from './siem-forwarder.service.js';
import { SIEM_SETTINGS, siemSettings } from './siem-settings.js';

/** Forwards every audit row to a SIEM as RFC 5424 syslog over TLS; idle while AUDITOR_SIEM_URL is unset. */
@Module({
  providers: [{ provide: SIEM_SETTINGS, inject: [AUDITOR_CONFIG], useFactory: (config: AuditorConfig) => siemSettings(config) }, SiemForwarder],
  exports: [SiemForwarder],
})
export class SiemModule {}
