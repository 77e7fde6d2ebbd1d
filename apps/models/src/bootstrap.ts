import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import { nestLogLevels, type ModelsConfig } from '@gateway/config';
import { SERVICES } from '@gateway/contracts';
import { DomainErrorRpcFilter, RedisRpcServer } from '@gateway/transport';
import { ModelsModule } from './models.module';

export async function startModels(config: ModelsConfig): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(ModelsModule.forRoot(config), {
    strategy: new RedisRpcServer({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, service: SERVICES.models }),
    logger: nestLogLevels(config.LOG_LEVEL),
  });
  app.useGlobalFilters(new DomainErrorRpcFilter());
  app.enableShutdownHooks();
  await app.listen();
  return app;
}
