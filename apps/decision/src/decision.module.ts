import { Module, type DynamicModule } from '@nestjs/common';
import { DependencyHealthModule, MessagingModule, OutboxRelayModule } from '@autoheal/messaging';
import { PersistenceModule } from '@autoheal/persistence';
import { ObservabilityModule } from '@autoheal/telemetry';
import { CLOCK, systemClock, type Clock } from './clock.js';
import type { DecisionConfig } from './config.js';
import { DECISION_APPLICATION_NAME, DECISION_SCHEMA } from './data-source.js';
import { TENANT_PROFILES } from './decision.tokens.js';
import { decisionMigrations } from './migrations/index.js';
import { OutcomeEventsHandler } from './outcomes/outcome-events.handler.js';
import { OutcomesService } from './outcomes/outcomes.service.js';
import { IncidentEventsHandler } from './planning/incident-events.handler.js';
import { PlanningService } from './planning/planning.service.js';
import type { TenantProfile } from './tenants/tenant-profile.js';
import { TenantsService } from './tenants/tenants.service.js';

export interface DecisionModuleOptions {
  config: DecisionConfig;
  /** Validated tenant profiles (see readTenantsFile). */
  tenants: TenantProfile[];
  clock?: Clock;
}

@Module({})
export class DecisionModule {
  static register({ config, tenants, clock = systemClock }: DecisionModuleOptions): DynamicModule {
    return {
      module: DecisionModule,
      imports: [
        MessagingModule.forRoot({ servers: config.NATS_URL, name: 'decision' }),
        PersistenceModule.forRoot({ url: config.DATABASE_URL, schema: DECISION_SCHEMA, migrations: decisionMigrations, applicationName: DECISION_APPLICATION_NAME }),
        OutboxRelayModule.forRoot({ schema: DECISION_SCHEMA }),
        ObservabilityModule.forRoot({ service: 'decision' }),
        DependencyHealthModule,
      ],
      controllers: [IncidentEventsHandler, OutcomeEventsHandler],
      providers: [
        { provide: TENANT_PROFILES, useValue: tenants },
        { provide: CLOCK, useValue: clock },
        TenantsService,
        PlanningService,
        OutcomesService,
      ],
    };
  }
}
