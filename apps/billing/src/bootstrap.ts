import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import type { BillingConfig } from '@gateway/config';
import { exitAfterGrace, serviceLoggers } from '@gateway/logging';
import { SERVICES } from '@gateway/contracts';
import { DomainErrorRpcFilter, RedisRpcServer } from '@gateway/transport';
import { BillingModule } from './billing.module';

/** Builds and starts a billing instance; used by main.ts and by in-process tests. */
export async function startBilling(config: BillingConfig): Promise<INestMicroservice> {
  const logs = serviceLoggers('billing', config.LOG_LEVEL);
  const app = await NestFactory.createMicroservice(BillingModule.forRoot(config), {
    strategy: new RedisRpcServer({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, service: SERVICES.billing }),
    logger: logs.nest,
  });
  app.useGlobalFilters(new DomainErrorRpcFilter());
  // SIGTERM: Nest closes the app (the RPC server finishes the requests it popped, the outbox consumer its batch)
  app.enableShutdownHooks();
  exitAfterGrace(config.SHUTDOWN_GRACE_MS, logs.logger);
  await app.listen();
  return app;
}
