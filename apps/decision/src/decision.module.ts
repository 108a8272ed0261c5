import { Module, type DynamicModule } from '@nestjs/common';
import { DependencyHealthModule, MessagingModule, OutboxRelayModule } from '@autoheal/messaging';
import { PersistenceModule } from '@autoheal/persistence';
import { ObservabilityModule } from '@autoheal/telemetry';
import { AdminAuthService } from './admin/admin-auth.service.js';
import { AdminReads, adminReadPoolProvider } from './admin/admin-reads.js';
import { AdminRefusals } from './admin/admin-refusals.js';
import { AdminGuard } from './admin/admin.guard.js';
import { ApiKeysCache } from './admin/api-keys.cache.js';
import { OperationsController } from './admin/remediations.controller.js';
import { TenantsController } from './admin/tenants.controller.js';
import { ApprovalsService } from './approvals/approvals.service.js';
import { BacktestService } from './backtest/backtest.service.js';
import { BreakerService } from './breaker/breaker.service.js';
import { CLOCK, systemClock, type Clock } from './clock.js';
import { AvailabilityCheckService } from './compliance/availability-check.service.js';
import { ComplianceCheckService } from './compliance/compliance-check.service.js';
import type { DecisionConfig } from './config.js';
import { DECISION_APPLICATION_NAME, DECISION_SCHEMA } from './data-source.js';
import { BOOT_TENANT_DOCUMENTS, DECISION_CONFIG, SECRET_RESOLVER } from './decision.tokens.js';
import { DeliveriesWorker, envSecretResolver, type SecretResolver } from './escalations/deliveries.worker.js';
import { decisionMigrations } from './migrations/index.js';
import { OutcomeEventsHandler } from './outcomes/outcome-events.handler.js';
import { OutcomesService } from './outcomes/outcomes.service.js';
import { VerificationWorker } from './outcomes/verification.worker.js';
import { DecisionRunner } from './planning/decision-runner.js';
import { DeferralsWorker } from './planning/deferrals.worker.js';
import { IncidentEventsHandler } from './planning/incident-events.handler.js';
import { PlanningService } from './planning/planning.service.js';
import { ScaleInWorker } from './scale-in/scale-in.worker.js';
import { SwitchoverArmsWorker } from './switchover-arms/switchover-arms.worker.js';
import { StateMetricsSampler } from './state-metrics/state-metrics.sampler.js';
import { TenantsService } from './tenants/tenants.service.js';

export interface DecisionModuleOptions {
  config: DecisionConfig;
  /** Tenant documents to seed at boot (not yet validated: the tenants service validates them). */
  bootDocuments: unknown[];
  clock?: Clock;
  secrets?: SecretResolver;
}

@Module({})
export class DecisionModule {
  static register({ config, bootDocuments, clock = systemClock, secrets = envSecretResolver }: DecisionModuleOptions): DynamicModule {
    return {
      module: DecisionModule,
      imports: [
        MessagingModule.forService('decision', config),
        PersistenceModule.forRoot({ url: config.DATABASE_URL, schema: DECISION_SCHEMA, migrations: decisionMigrations, applicationName: DECISION_APPLICATION_NAME }),
        OutboxRelayModule.forRoot({ schema: DECISION_SCHEMA }),
        ObservabilityModule.forRoot({ service: 'decision' }),
        DependencyHealthModule,
      ],
      controllers: [IncidentEventsHandler, OutcomeEventsHandler, TenantsController, OperationsController],
      providers: [
        { provide: BOOT_TENANT_DOCUMENTS, useValue: bootDocuments },
        { provide: DECISION_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: SECRET_RESOLVER, useValue: secrets },
        adminReadPoolProvider,
        AdminReads,
        ApiKeysCache,
        AdminAuthService,
        AdminRefusals,
        AdminGuard,
        TenantsService,
        DecisionRunner,
        PlanningService,
        DeferralsWorker,
        OutcomesService,
        VerificationWorker,
        ScaleInWorker,
        SwitchoverArmsWorker,
        ApprovalsService,
        BreakerService,
        BacktestService,
        DeliveriesWorker,
        ComplianceCheckService,
        AvailabilityCheckService,
        StateMetricsSampler,
      ],
    };
  }
}
