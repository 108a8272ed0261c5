import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

export function auditorOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('autoheal auditor')
    .setDescription(
      'Tamper-evident audit trail of incidents, remediations and compliance decisions, one hash chain per tenant. ' +
        "Authenticate with `Authorization: Bearer <API key or OIDC token>`: any role reads the audit trails of the tenants in the credential's scope; " +
        'an admin over every tenant manages API keys (`/v1/api-keys`). Refused requests are recorded, aggregated, in the `@system` trail.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'personal API key, bootstrap key, or OIDC token' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs, the OpenAPI document at /docs-json. */
export function mountOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => auditorOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
