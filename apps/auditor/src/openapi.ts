import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

export function auditorOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('autoheal auditor')
    .setDescription(
      'Tamper-evident audit trail of incidents, remediations and compliance decisions, one hash chain per tenant. ' +
        'Authenticate with `Authorization: Bearer <API key>`: an ops key reads every tenant, a tenant key its own.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs, the OpenAPI document at /docs-json. */
export function mountOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => auditorOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
