import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { IngressConfig } from '@gateway/config';
import { SERVICES } from '@gateway/contracts';
import { RedisRpcClient } from '@gateway/transport';
import Redis from 'ioredis';
import { createPrisma, type PrismaClient } from '@gateway/db';
import { TaskProducer, TaskRepository } from '@gateway/tasks';
import { Lifecycle } from './lifecycle';
import { BILLING, CONFIG, MODELS, PRISMA, REDIS, REDIS_CMD, TASK_PRODUCER } from './tokens';

@Global()
@Module({})
export class SharedModule implements OnApplicationShutdown {
  static forRoot(config: IngressConfig) {
    const client = (service: string) => () => {
      const c = new RedisRpcClient({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, service, timeoutMs: config.RPC_TIMEOUT_MS });
      return c.connect().then(() => c);
    };
    return {
      module: SharedModule,
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: BILLING, useFactory: client(SERVICES.billing) },
        { provide: MODELS, useFactory: client(SERVICES.models) },
        // subscriber connection for cache invalidation messages
        { provide: REDIS, useFactory: () => new Redis(config.REDIS_URL) },
        // commands: the calls' admission and hold script, the settle outbox, keys, idempotency, leases. No
        // auto-pipelining: ioredis sends an auto-pipeline only once the one before it has answered, a tick later,
        // so a call's admission waited behind the last outbox append (and a setImmediate); the hot callers batch
        // their tick themselves, and a plain connection writes each command at once, answers still in order
        { provide: REDIS_CMD, useFactory: () => new Redis(config.REDIS_URL) },
        // tasks: ingress creates them and enqueues their jobs; the workers advance them
        { provide: PRISMA, useFactory: () => createPrisma(config.DATABASE_URL, 10) },
        { provide: TaskRepository, useFactory: (prisma: PrismaClient) => new TaskRepository(prisma), inject: [PRISMA] },
        { provide: TASK_PRODUCER, useFactory: () => new TaskProducer(config.REDIS_URL, config.REDIS_PREFIX) },
        Lifecycle,
      ],
      exports: [CONFIG, BILLING, MODELS, REDIS, REDIS_CMD, PRISMA, TaskRepository, TASK_PRODUCER, Lifecycle],
    };
  }

  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    @Inject(MODELS) private readonly models: RedisRpcClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_CMD) private readonly commands: Redis,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(TASK_PRODUCER) private readonly producer: TaskProducer,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.billing.close(), this.models.close()]);
    this.redis.disconnect();
    this.commands.disconnect();
    await this.producer.close();
    await this.prisma.$disconnect();
  }
}
