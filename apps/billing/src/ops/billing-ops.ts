import type { INestMicroservice } from '@nestjs/common';
import type { BillingConfig } from '@gateway/config';
import { OUTBOX } from '@gateway/contracts';
import { PRISMA, REDIS, type PrismaClient } from '@gateway/db';
import { gauge, initMetrics, postgresCheck, redisCheck, startOpsServer, type OpsServer } from '@gateway/ops';
import type Redis from 'ioredis';

/**
 * The ops port of a billing process (main.ts only: in-process tests leave it off): metrics, with the settle
 * outbox's depth and age read from Redis at each scrape, and readiness on Postgres and Redis.
 */
export async function startBillingOps(app: INestMicroservice, config: BillingConfig): Promise<OpsServer | undefined> {
  initMetrics('billing', config.METRICS_LOOP_RESOLUTION_MS);
  const redis = app.get<Redis>(REDIS);
  const prisma = app.get<PrismaClient>(PRISMA);
  const stream = OUTBOX.stream(config.REDIS_PREFIX);
  // applied entries are deleted from the stream, so what it holds is what the ledger has not applied yet
  gauge('gateway_settle_outbox_depth', 'Settles and releases in the outbox not yet applied to the ledger', [], async function () {
    this.set(await redis.xlen(stream).catch(() => 0));
  });
  gauge('gateway_settle_outbox_pending', 'Outbox entries taken by a billing consumer and not yet acknowledged', [], async function () {
    const summary = (await redis.xpending(stream, OUTBOX.group).catch(() => null)) as [number] | null;
    this.set(Number(summary?.[0] ?? 0));
  });
  gauge('gateway_settle_outbox_oldest_age_seconds', 'Age of the oldest unapplied outbox entry (0 when empty)', [], async function () {
    const first = (await redis.xrange(stream, '-', '+', 'COUNT', 1).catch(() => [])) as Array<[string, string[]]>;
    const ms = first.length ? Number(first[0][0].split('-')[0]) : NaN;
    this.set(Number.isFinite(ms) ? Math.max(0, (Date.now() - ms) / 1000) : 0);
  });
  return startOpsServer({ port: config.OPS_PORT, checks: { postgres: postgresCheck(prisma), redis: redisCheck(redis) } });
}
