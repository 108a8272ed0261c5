import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

export function decisionOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('autoheal decision (admin)')
    .setDescription(
      'Tenants as code (apply, list, versions, diff, backtest), approvals, and the circuit breakers (global and per tenant). ' +
        "Authenticate with `Authorization: Bearer <credential>`: a personal API key (created at the auditor), an OIDC token, or the bootstrap DECISION_ADMIN_API_KEY. " +
        "Roles: viewer reads, operator applies tenant documents, approver approves, rejects and resumes the breaker, admin does everything; the tenant scope narrows each. The actor recorded is the credential's subject.",
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'personal API key, OIDC token, or the bootstrap key' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs, the OpenAPI document at /docs-json. */
export function mountOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => decisionOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
