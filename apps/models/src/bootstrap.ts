import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import type { ModelsConfig } from '@gateway/config';
import { exitAfterGrace, serviceLoggers } from '@gateway/logging';
import { SERVICES } from '@gateway/contracts';
import { DomainErrorRpcFilter, RedisRpcServer } from '@gateway/transport';
import { ModelsModule } from './models.module';

export async function startModels(config: ModelsConfig): Promise<INestMicroservice> {
  const logs = serviceLoggers('models', config.LOG_LEVEL);
  const app = await NestFactory.createMicroservice(ModelsModule.forRoot(config), {
    strategy: new RedisRpcServer({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, service: SERVICES.models }),
    logger: logs.nest,
  });
  app.useGlobalFilters(new DomainErrorRpcFilter());
  // SIGTERM: Nest closes the app (the RPC server finishes the requests it popped)
  app.enableShutdownHooks();
  exitAfterGrace(config.SHUTDOWN_GRACE_MS, logs.logger);
  await app.listen();
  return app;
}
