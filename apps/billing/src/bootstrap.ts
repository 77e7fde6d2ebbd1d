import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import { nestLogLevels, type BillingConfig } from '@gateway/config';
import { SERVICES } from '@gateway/contracts';
import { DomainErrorRpcFilter, RedisRpcServer } from '@gateway/transport';
import { BillingModule } from './billing.module';

/** Builds and starts a billing instance; used by main.ts and by in-process tests. */
export async function startBilling(config: BillingConfig): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(BillingModule.forRoot(config), {
    strategy: new RedisRpcServer({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, service: SERVICES.billing }),
    logger: nestLogLevels(config.LOG_LEVEL),
  });
  app.useGlobalFilters(new DomainErrorRpcFilter());
  app.enableShutdownHooks();
  await app.listen();
  return app;
}
