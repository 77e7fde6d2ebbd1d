export { PrismaClient } from './generated/prisma/client';
export * as Db from './generated/prisma/client';
export { createPrisma } from './prisma';
export { InfraModule, CONFIG, PRISMA, REDIS } from './infra.module';
export { createPgPool, retryTransient, type PgPool, type RetryOptions } from './pg';
