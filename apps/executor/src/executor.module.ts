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
import { RunbookCallbackController } from './drivers/runbook/runbook-callback.controller.js';
import { RunbookCallbacks } from './drivers/runbook/runbook-callbacks.js';
import { RunbookDriver } from './drivers/runbook/runbook.driver.js';
import { ExecutionService } from './execution/execution.service.js';
import { RemediationEventsHandler } from './execution/remediation-events.handler.js';
import { EXECUTOR_CONFIG, SECRET_RESOLVER } from './executor.tokens.js';
import { executorMigrations } from './migrations/index.js';
import { envSecretResolver, type SecretResolver } from './secrets.js';

export interface ExecutorModuleOptions {
  config: ExecutorConfig;
  clock?: Clock;
  /** Where secrets named by `secretRef` come from (default: the environment). */
  secrets?: SecretResolver;
}

@Module({})
export class ExecutorModule {
  static register({ config, clock = systemClock, secrets = envSecretResolver }: ExecutorModuleOptions): DynamicModule {
    return {
      module: ExecutorModule,
      imports: [
        MessagingModule.forService('executor', config),
        PersistenceModule.forRoot({ url: config.DATABASE_URL, schema: EXECUTOR_SCHEMA, migrations: executorMigrations, applicationName: EXECUTOR_APPLICATION_NAME }),
        OutboxRelayModule.forRoot({ schema: EXECUTOR_SCHEMA }),
        ObservabilityModule.forRoot({ service: 'executor' }),
        DependencyHealthModule,
      ],
      controllers: [RemediationEventsHandler, RunbookCallbackController],
      providers: [
        { provide: EXECUTOR_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: SECRET_RESOLVER, useValue: secrets },
        // One driver per runtime; the plan's runtime picks it (ExecutionService).
        NatsAgentDriver,
        RunbookCallbacks,
        RunbookDriver,
        // No kubeconfig is no reason not to boot: the driver then refuses its targets with the reason.
        { provide: KUBE_CONFIG_SOURCE, useFactory: () => loadKubeConfig() },
        KubernetesDriver,
        { provide: REMEDIATION_DRIVERS, useFactory: (...drivers: RemediationDriver[]) => drivers, inject: [NatsAgentDriver, RunbookDriver, KubernetesDriver] },
        ExecutionService,
      ],
    };
  }
}
