import { Module } from '@nestjs/common';
import { AccessRefusals } from './access-refusals.service.js';
import { ApiKeyAuthService } from './api-key-auth.service.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeysBucket } from './api-keys.bucket.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysService } from './api-keys.service.js';

@Module({
  controllers: [ApiKeysController],
  providers: [ApiKeyAuthService, AccessRefusals, ApiKeyGuard, ApiKeysBucket, ApiKeysService],
  exports: [ApiKeyAuthService, AccessRefusals, ApiKeyGuard],
})
export class ApiKeysModule {}
