import { Module, type DynamicModule } from '@nestjs/common';
import { DependencyHealthModule, MessagingModule, OutboxRelayModule } from '@autoheal/messaging';
import { PersistenceModule } from '@autoheal/persistence';
import { ObservabilityModule } from '@autoheal/telemetry';
import { CLOCK, systemClock, type Clock } from './clock.js';
import type { ExecutorConfig } from './config.js';
import { EXECUTOR_APPLICATION_NAME, EXECUTOR_SCHEMA } from './data-source.js';
import { loadKubeConfig } from './drivers/kubernetes/kubernetes-cluster.js';
import { KUBE_CONFIG_SOURCE, KubernetesDriver } from './drivers/kubernetes/kubernetes.driver.js';
import { NatsAgentDriver } from './drivers/nats-agent.driver.js';
import { REMEDIATION_DRIVERS, type RemediationDriver } from './drivers/remediation-driver.js';
import { ExecutionService } from './execution/execution.service.js';
import { RemediationEventsHandler } from './execution/remediation-events.handler.js';
import { EXECUTOR_CONFIG } from './executor.tokens.js';
import { executorMigrations } from './migrations/index.js';

export interface ExecutorModuleOptions {
  config: ExecutorConfig;
  clock?: Clock;
}

@Module({})
export class ExecutorModule {
  static register({ config, clock = systemClock }: ExecutorModuleOptions): DynamicModule {
    return {
      module: ExecutorModule,
      imports: [
        MessagingModule.forService('executor', config),
        PersistenceModule.forRoot({ url: config.DATABASE_URL, schema: EXECUTOR_SCHEMA, migrations: executorMigrations, applicationName: EXECUTOR_APPLICATION_NAME }),
        OutboxRelayModule.forRoot({ schema: EXECUTOR_SCHEMA }),
        ObservabilityModule.forRoot({ service: 'executor' }),
        DependencyHealthModule,
      ],
      controllers: [RemediationEventsHandler],
      providers: [
        { provide: EXECUTOR_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        // One driver per runtime; the plan's runtime picks it (ExecutionService).
        NatsAgentDriver,
        // No kubeconfig is no reason not to boot: the driver then refuses its targets with the reason.
        { provide: KUBE_CONFIG_SOURCE, useFactory: () => loadKubeConfig() },
        KubernetesDriver,
        { provide: REMEDIATION_DRIVERS, useFactory: (...drivers: RemediationDriver[]) => drivers, inject: [NatsAgentDriver, KubernetesDriver] },
        ExecutionService,
      ],
    };
  }
}
