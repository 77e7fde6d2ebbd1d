import { OUTBOX, newId, type OutboxOp } from '@gateway/contracts';
import { billingConfigSchema, parseConfig } from '@gateway/config';
import type { PgPool, PrismaClient } from '@gateway/db';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { books, expectInvariants, makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import { BudgetRepository } from '../budgets/budget.repository';
import { HoldRepository } from './hold.repository';
import { HoldsService } from './holds.service';
import { OutboxConsumerService } from './outbox-consumer.service';

// The settle outbox against the real Redis and Postgres: what a consumer took and never acknowledged
// (it died) is claimed and applied by another; a bad entry is parked, not retried forever or dropped.
describe('settle outbox consumer', () => {
  let prisma: PrismaClient;
  let pg: PgPool;
  let redis: Redis;
  let consumer: OutboxConsumerService | undefined;
  const prefix = `outbox-${randomUUID()}:`;
  const stream = OUTBOX.stream(prefix);

  beforeAll(() => {
    prisma = testPrisma(3);
    pg = testPg(3);
    redis = new Redis(process.env.REDIS_URL as string);
  });
  afterAll(async () => {
    await consumer?.beforeApplicationShutdown();
    await redis.del(stream, OUTBOX.dead(prefix));
    redis.disconnect();
    await Promise.all([prisma.$disconnect(), pg.end()]);
  });

  const waitFor = async (check: () => Promise<boolean>, ms = 10_000) => {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('claims and applies entries a dead consumer took; parks a bad one; acknowledges and deletes what it applied', async () => {
    const repo = new HoldRepository(prisma, pg, pg);
    const config = parseConfig(billingConfigSchema, { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: prefix, OUTBOX_CLAIM_IDLE_MS: '300', SWEEP_INTERVAL_MS: '0' });
    const holds = new HoldsService(repo, config, new BudgetRepository(prisma));
    const acct = await makeAccount(prisma, 10_000);
    const ids = [newId('hold'), newId('hold')];
    for (const id of ids) await repo.place({ id, accountId: acct, keyId: null, requestId: newId('req'), kind: 'call', model: 'm', amountMicros: 1000, ttlMs: 60_000 });

    // a consumer of the group reads both settles, then dies before applying them
    await redis.xgroup('CREATE', stream, OUTBOX.group, '0', 'MKSTREAM');
    const settle = (id: string, cost: number): OutboxOp => ({ op: 'settle', hold_id: id, cost_micros: cost });
    await redis.xadd(stream, '*', 'm', JSON.stringify([settle(ids[0], 300)]));
    await redis.xadd(stream, '*', 'm', JSON.stringify([settle(ids[1], 200), { op: 'settle', hold_id: ids[1], cost_micros: -5 }]));
    const taken = (await redis.xreadgroup('GROUP', OUTBOX.group, 'dead-consumer', 'COUNT', '10', 'STREAMS', stream, '>')) as Array<[string, unknown[]]>;
    expect(taken[0][1]).toHaveLength(2);
    expect(((await redis.xpending(stream, OUTBOX.group)) as [number])[0]).toBe(2);

    consumer = new OutboxConsumerService(holds, config);
    consumer.onApplicationBootstrap();
    await waitFor(async () => (await prisma.hold.count({ where: { id: { in: ids }, state: 'settled' } })) === 2);
    await waitFor(async () => (await redis.xlen(stream)) === 0);
    expect(((await redis.xpending(stream, OUTBOX.group)) as [number])[0]).toBe(0);

    // charged once each; the bad entry (a negative cost) is parked with its reason
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 9_500, held: 0 });
    expectInvariants(b);
    const dead = (await redis.xrange(OUTBOX.dead(prefix), '-', '+')) as Array<[string, string[]]>;
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0][1][1])).toMatchObject({ op: { hold_id: ids[1], cost_micros: -5 }, error: expect.stringContaining('bad settle') });

    // the same entries again (a redelivery after a lost acknowledgement) change nothing
    await redis.xadd(stream, '*', 'm', JSON.stringify([settle(ids[0], 300), settle(ids[1], 200)]));
    await waitFor(async () => (await redis.xlen(stream)) === 0);
    expect(await books(prisma, acct)).toMatchObject({ balance: 9_500, held: 0 });
    expect(consumer.applied).toBe(2);
  }, 30_000);
});
