import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import { NATS_CONNECTION, natsIsHealthy } from '@autoheal/messaging';
import { HealthCheckRegistry } from '@autoheal/telemetry';

/** GET /health is ready when both things this service cannot work without answer. */
@Injectable()
export class ExecutorHealthChecks implements OnModuleInit {
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
