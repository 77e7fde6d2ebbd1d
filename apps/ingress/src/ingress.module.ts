import { Module, type DynamicModule } from '@nestjs/common';
import type { IngressConfig } from '@gateway/config';
import { AdminAccountsController, AdminQueuesController, AdminRegistryController } from './admin/admin.controller';
import { AdminGuard } from './admin/admin.guard';
import { AdminAudit } from './admin/admin-audit';
import { AuthService } from './auth/auth.service';
import { KeyCacheService } from './auth/key-cache.service';
import { AnthropicController } from './anthropic-api/anthropic.controller';
import { ResponseCacheService } from './cache/response-cache.service';
import { CallBillingService } from './conversation/call-billing.service';
import { HoldKeeper } from './money/hold-keeper.service';
import { HoldPlacer } from './money/hold-placer.service';
import { LeaseBook } from './money/lease-book.service';
import { SettleOutbox } from './money/settle-outbox.service';
import { ConversationService } from './conversation/conversation.service';
import { TokenCountService } from './conversation/token-count.service';
import { GeminiController } from './gemini-api/gemini.controller';
import { OpenAIChatController } from './openai-api/openai.controller';
import { AdmissionService } from './admission/admission.service';
import { HealthController } from './health.controller';
import { RateLimitService } from './rate-limit/rate-limit.service';
import { TasksController } from './tasks/tasks.controller';
import { TasksService } from './tasks/tasks.service';
import { IdempotencyService } from './idempotency/idempotency.service';
import { MediaController } from './media/media.controller';
import { MediaService } from './media/media.service';
import { PublicModelsController } from './public-models/public-models.controller';
import { ModelCacheService } from './registry/model-cache.service';
import { ChangeListener } from './shared/change-listener.service';
import { SharedModule } from './shared/shared.module';
import { CircuitBreaker } from './upstream/circuit-breaker';
import { UpstreamClient } from './upstream/upstream.client';
import { IngressHealth } from './ops/ingress-health.service';
import { UpstreamMetrics } from './ops/upstream-metrics';
import { RequestLogService } from './request-log/request-log';
import { AccountController } from './account/account.controller';
import { ConsoleAdminController } from './admin/console-admin.controller';

@Module({})
export class IngressModule {
  static forRoot(config: IngressConfig): DynamicModule {
    return {
      module: IngressModule,
      imports: [SharedModule.forRoot(config)],
      controllers: [HealthController, OpenAIChatController, AnthropicController, GeminiController, MediaController, TasksController, PublicModelsController, AdminAccountsController, AdminRegistryController, AdminQueuesController, AccountController, ConsoleAdminController],
      providers: [
        ChangeListener,
        KeyCacheService,
        AuthService,
        ModelCacheService,
        CircuitBreaker,
        UpstreamClient,
        SettleOutbox,
        HoldPlacer,
        HoldKeeper,
        LeaseBook,
        CallBillingService,
        ConversationService,
        TokenCountService,
        MediaService,
        IdempotencyService,
        ResponseCacheService,
        RateLimitService,
        AdmissionService,
        TasksService,
        AdminGuard,
        AdminAudit,
        IngressHealth,
        UpstreamMetrics,
        RequestLogService,
      ],
    };
  }
}
