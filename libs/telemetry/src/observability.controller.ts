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

const liveSchema = { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } };

@ApiTags('observability')
@Controller()
export class ObservabilityController {
  constructor(private readonly health: HealthCheckRegistry) {}

  /**
   * Liveness: the process is up and its event loop answers. No dependency is checked, so a
   * Postgres or NATS outage never gets a healthy pod restarted (readiness takes it out of
   * service instead).
   */
  @Get('health/live')
  @ApiOkResponse({ description: 'The process answers', schema: liveSchema })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: every registered dependency check (Postgres, NATS) passes. */
  @Get('health/ready')
  @ApiOkResponse({ description: 'Every registered check passed', schema: healthSchema })
  @ApiServiceUnavailableResponse({ description: 'At least one check failed', schema: healthSchema })
  ready(): Promise<HealthReport> {
    return this.readiness();
  }

  /** The readiness report under its original path, kept for existing callers and monitors. */
  @Get('health')
  @ApiOkResponse({ description: 'Same as /health/ready', schema: healthSchema })
  @ApiServiceUnavailableResponse({ description: 'At least one check failed', schema: healthSchema })
  check(): Promise<HealthReport> {
    return this.readiness();
  }

  private async readiness(): Promise<HealthReport> {
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
