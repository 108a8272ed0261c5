import { Body, ConflictException, Controller, Get, HttpCode, NotFoundException, Param, Post, Query, Req, ServiceUnavailableException, UseGuards, type HttpException, BadRequestException } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiCreatedResponse, ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../audit-log/dto/error-response.dto.js';
import type { ApiKeyPrincipal } from './api-key.js';
import { ApiKeyGuard, CurrentApiKey, RequirePermission } from './api-key.guard.js';
import { ApiKeysError, ApiKeysErrorCode } from './api-keys.errors.js';
import { ApiKeysService, type KeyActor } from './api-keys.service.js';
import { ApiKeyDto, ApiKeyIdParamsDto, ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, ExpireApiKeyDto, ListApiKeysQueryDto } from './dto/api-keys.dto.js';

interface RequestOrigin {
  method: string;
  originalUrl: string;
  ip?: string;
}

function actor(principal: ApiKeyPrincipal, req: RequestOrigin): KeyActor {
  return { principal, source: `${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip ?? 'unknown'}` };
}

function toHttp(error: unknown): never {
  if (!(error instanceof ApiKeysError)) throw error;
  const body = { code: error.code, message: error.message };
  const http = ((): HttpException => {
    switch (error.code) {
      case ApiKeysErrorCode.NotFound:
        return new NotFoundException({ statusCode: 404, error: 'Not Found', ...body });
      case ApiKeysErrorCode.Revoked:
        return new ConflictException({ statusCode: 409, error: 'Conflict', ...body });
      case ApiKeysErrorCode.InvalidExpiry:
        return new BadRequestException({ statusCode: 400, error: 'Bad Request', ...body, fields: error.field ? [{ field: error.field, messages: [error.message] }] : undefined });
      case ApiKeysErrorCode.BucketUnavailable:
        return new ServiceUnavailableException({ statusCode: 503, error: 'Service Unavailable', ...body });
      default: {
        const unreachable: never = error.code;
        throw new Error(`unmapped API keys error ${String(unreachable)}`);
      }
    }
  })();
  throw http;
}

/** People's API keys; every route needs the admin role over every tenant. */
@ApiTags('api-keys')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'No credential, or an unknown, revoked or expired one', type: ErrorResponseDto })
@ApiForbiddenResponse({ description: 'Not an admin over every tenant', type: ErrorResponseDto })
@ApiBadRequestResponse({ description: 'Invalid body, query or id; the message names the field', type: ErrorResponseDto })
@UseGuards(ApiKeyGuard)
@RequirePermission('api_keys:manage', { everyTenant: true })
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a personal API key; the secret is in this answer only',
    description: "Recorded as `access.api_key_created` in the trail of each tenant of the key's scope (the system trail `@system` for scope `*`).",
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  async create(@Body() body: CreateApiKeyDto, @CurrentApiKey() principal: ApiKeyPrincipal, @Req() req: RequestOrigin): Promise<CreatedApiKeyDto> {
    const request = { subject: body.subject, roles: body.roles, tenantScope: body.tenantScope, expiresAt: body.expiresAt ? new Date(body.expiresAt) : null, label: body.label ?? null };
    const { key, row } = await this.keys.create(request, actor(principal, req)).catch(toHttp);
    return { ...ApiKeyDto.from(row), key };
  }

  @Get()
  @ApiOperation({ summary: 'Keys, by id, a page at a time (never a secret or a hash)' })
  @ApiOkResponse({ type: ApiKeyPageDto })
  async list(@Query() query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    const page = await this.keys.page(query.after, query.limit);
    return { items: page.items.map((row) => ApiKeyDto.from(row)), next: page.next };
  }

  @Post(String.raw`:id\:revoke`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key now: refused by the auditor at once and by the decision service once the API_KEYS bucket propagates (about a second)' })
  @ApiOkResponse({ type: ApiKeyDto })
  async revoke(@Param() params: ApiKeyIdParamsDto, @CurrentApiKey() principal: ApiKeyPrincipal, @Req() req: RequestOrigin): Promise<ApiKeyDto> {
    return ApiKeyDto.from(await this.keys.revoke(params.id, actor(principal, req)).catch(toHttp));
  }

  @Post(String.raw`:id\:expire`)
  @HttpCode(200)
  @ApiOperation({ summary: "Bring a key's expiry forward (to `at`, default now); a key's life is never extended" })
  @ApiOkResponse({ type: ApiKeyDto })
  async expire(@Param() params: ApiKeyIdParamsDto, @Body() body: ExpireApiKeyDto, @CurrentApiKey() principal: ApiKeyPrincipal, @Req() req: RequestOrigin): Promise<ApiKeyDto> {
    return ApiKeyDto.from(await this.keys.expire(params.id, body.at ? new Date(body.at) : undefined, actor(principal, req)).catch(toHttp));
  }
}
