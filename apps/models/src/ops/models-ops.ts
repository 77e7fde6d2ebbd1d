import type { INestMicroservice } from '@nestjs/common';
import type { ModelsConfig } from '@gateway/config';
import { PRISMA, REDIS, type PrismaClient } from '@gateway/db';
import { initMetrics, postgresCheck, redisCheck, startOpsServer, type OpsServer } from '@gateway/ops';
import type Redis from 'ioredis';

/** The ops port of a models process (main.ts only): metrics (RPC latency) and readiness on Postgres and Redis. */
export async function startModelsOps(app: INestMicroservice, config: ModelsConfig): Promise<OpsServer | undefined> {
  initMetrics('models', config.METRICS_LOOP_RESOLUTION_MS);
  return startOpsServer({ port: config.OPS_PORT, checks: { postgres: postgresCheck(app.get<PrismaClient>(PRISMA)), redis: redisCheck(app.get<Redis>(REDIS)) } });
}
