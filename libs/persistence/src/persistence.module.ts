import { Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { openDataSource, type CreateDataSourceOptions } from './data-source.js';

@Injectable()
class DataSourceLifecycle implements OnApplicationShutdown {
  constructor(private readonly db: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.db.isInitialized) await this.db.destroy();
  }
}

/** The service's DataSource (its own schema), connected at boot (every pool connection) and closed last at shutdown. */
@Module({})
export class PersistenceModule {
  static forRoot(options: CreateDataSourceOptions): DynamicModule {
    return {
      module: PersistenceModule,
      global: true,
      providers: [{ provide: DataSource, useFactory: () => openDataSource(options) }, DataSourceLifecycle],
      exports: [DataSource],
    };
  }
}
