import { Body, Controller, HttpCode, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { IngestAuthGuard } from './ingest-auth.guard.js';
import { IngestExceptionFilter } from './ingest.exception-filter.js';
import { IngestService, type IngestReceipt } from './ingest.service.js';

/** HTTP ingest for producers that cannot speak NATS; 202 once JetStream has stored every event. */
@Controller('v1/tenants/:tenantId')
@UseGuards(IngestAuthGuard)
@UseFilters(IngestExceptionFilter)
export class IngestController {
  constructor(private readonly ingest: IngestService) {}

  /** One health event envelope, or `{ "events": [ ... ] }` with at most 500. */
  @Post('health-events')
  @HttpCode(202)
  healthEvents(@Param('tenantId') tenantId: string, @Body() body: unknown): Promise<IngestReceipt> {
    return this.ingest.ingestHealthEvents(tenantId, body);
  }

  /** Prometheus Alertmanager webhook (payload version 4). */
  @Post('alertmanager')
  @HttpCode(202)
  alertmanager(@Param('tenantId') tenantId: string, @Body() body: unknown): Promise<IngestReceipt> {
    return this.ingest.ingestAlertmanager(tenantId, body);
  }
}
