import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

export function decisionOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('autoheal decision (admin)')
    .setDescription(
      'Tenants as code (apply, list, versions, diff, backtest), approvals, and the global circuit breaker. ' +
        'Authenticate with `Authorization: Bearer <DECISION_ADMIN_API_KEY>`.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'admin API key' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs, the OpenAPI document at /docs-json. */
export function mountOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => decisionOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
