import { Module, type DynamicModule } from '@nestjs/common';
import { HealthCheckRegistry } from './health-check.registry.js';
import { configureMetrics } from './metrics.js';
import { ObservabilityController } from './observability.controller.js';

export interface ObservabilityModuleOptions {
  /** Added as the `service` label of every metric. */
  service: string;
}

/**
 * GET /health/live (the process answers; no dependency checked), GET /health/ready and its
 * older name GET /health (the checks registered in HealthCheckRegistry), GET /metrics (prom-client).
 */
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityModuleOptions): DynamicModule {
    configureMetrics(options.service);
    return {
      module: ObservabilityModule,
      global: true,
      controllers: [ObservabilityController],
      providers: [HealthCheckRegistry],
      exports: [HealthCheckRegistry],
    };
  }
}
