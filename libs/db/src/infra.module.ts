import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { PrismaClient } from './generated/prisma/client';
import { createPrisma } from './prisma';

export const CONFIG = Symbol('CONFIG');
export const PRISMA = Symbol('PRISMA');
export const REDIS = Symbol('REDIS');

/**
 * What a service that owns tables needs: its parsed config, a Prisma client and a Redis command
 * connection, each closed when the application shuts down.
 */
@Global()
@Module({})
export class InfraModule implements OnApplicationShutdown {
  static forRoot(config: { DATABASE_URL: string; REDIS_URL: string }, poolSize: number): DynamicModule {
    return {
      module: InfraModule,
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: PRISMA, useFactory: () => createPrisma(config.DATABASE_URL, poolSize) },
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
