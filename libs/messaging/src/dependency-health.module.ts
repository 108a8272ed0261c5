import { Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import { HealthCheckRegistry } from '@autoheal/telemetry';
import { NATS_CONNECTION, natsIsHealthy } from './messaging.module.js';

@Injectable()
class DependencyHealthChecks implements OnModuleInit {
  constructor(
    private readonly registry: HealthCheckRegistry,
    private readonly db: DataSource,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
  ) {}

  onModuleInit(): void {
    this.registry.register('postgres', async () => {
      await this.db.query('SELECT 1');
      return true;
    });
    this.registry.register('nats', () => natsIsHealthy(this.nc));
  }
}

/**
 * Readiness (`GET /health/ready`, and `/health`) answers 200 only while both things every
 * service cannot work without answer: its Postgres and its NATS server. Liveness
 * (`GET /health/live`) checks neither. Needs ObservabilityModule, PersistenceModule
 * and MessagingModule.
 */
@Module({ providers: [DependencyHealthChecks] })
export class DependencyHealthModule {}
