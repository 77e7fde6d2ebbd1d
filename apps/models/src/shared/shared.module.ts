import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { ModelsConfig } from '@gateway/config';
import { createPrisma, type PrismaClient } from '@gateway/db';
import Redis from 'ioredis';
import { CONFIG, PRISMA, REDIS } from './tokens';

@Global()
@Module({})
export class SharedModule implements OnApplicationShutdown {
  static forRoot(config: ModelsConfig) {
    return {
      module: SharedModule,
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: PRISMA, useFactory: () => createPrisma(config.DATABASE_URL, 5) },
        { provide: REDIS, useFactory: () => new Redis(config.REDIS_URL, { enableAutoPipelining: true }) },
      ],
      exports: [CONFIG, PRISMA, REDIS],
    };
  }

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
    this.redis.disconnect();
  }
}
