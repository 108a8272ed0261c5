import { Controller, Get, Header, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckRegistry, type HealthReport } from './health-check.registry.js';
import { metricsRegistry } from './metrics.js';

const healthSchema = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'error'] },
    checks: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['ok', 'durationMs'],
        properties: { ok: { type: 'boolean' }, detail: {}, durationMs: { type: 'number' } },
      },
    },
  },
};

@ApiTags('observability')
@Controller()
export class ObservabilityController {
  constructor(private readonly health: HealthCheckRegistry) {}

  @Get('health')
  @ApiOkResponse({ description: 'Every registered check passed', schema: healthSchema })
  @ApiServiceUnavailableResponse({ description: 'At least one check failed', schema: healthSchema })
  async check(): Promise<HealthReport> {
    const report = await this.health.run();
    if (report.status !== 'ok') throw new ServiceUnavailableException(report);
    return report;
  }

  @Get('metrics')
  @Header('Content-Type', metricsRegistry.contentType)
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string' } })
  metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
