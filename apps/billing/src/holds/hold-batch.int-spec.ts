import { newId } from '@gateway/contracts';
import type { PgPool, PrismaClient } from '@gateway/db';
import { books, expectInvariants, makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import { HoldRepository } from './hold.repository';

describe('batched holds and settlements against Postgres', () => {
  let prisma: PrismaClient;
  let holds: HoldRepository;
  let pg: PgPool;

  beforeAll(() => {
    prisma = testPrisma(20);
    pg = testPg(20);
    holds = new HoldRepository(prisma, pg);
  });
  afterAll(() => Promise.all([prisma.$disconnect(), pg.end()]));

  const input = (accountId: string, amount: number) => ({ id: newId('hold'), accountId, keyId: null, requestId: 'r', kind: 'call' as const, model: 'm', amountMicros: amount, ttlMs: 60_000 });

  it('a batch answers each item in its own order, with the same rules as one by one', async () => {
    const a = await makeAccount(prisma, 20);
    const b = await makeAccount(prisma, 1000);
    const items = [input(b, 100), input(a, 7), input(a, 7), input(b, 50), input(a, 7)];
    const rows = await holds.placeMany(items);
    expect(rows.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'insufficient_balance']);
    const settled = await holds.settleMany([
      { holdId: items[3].id, costMicros: 20 },
      { holdId: items[1].id, costMicros: 7 },
      { holdId: items[3].id, costMicros: 20 },
      { holdId: 'hold_missing', costMicros: 1 },
    ]);
    expect(settled.map((r) => r.status)).toEqual(['ok', 'ok', 'already_settled', 'hold_not_found']);
    const [ba, bb] = [await books(prisma, a), await books(prisma, b)];
    expect(ba).toMatchObject({ balance: 13, held: 7 });
    expect(bb).toMatchObject({ balance: 980, held: 100 });
    expectInvariants(ba);
    expectInvariants(bb);
  });

  it('concurrent batches on shared accounts neither deadlock nor overdraw', async () => {
    const accounts = await Promise.all([makeAccount(prisma, 500), makeAccount(prisma, 500), makeAccount(prisma, 500)]);
    const batches = Array.from({ length: 12 }, (_, k) => Array.from({ length: 30 }, (_, i) => input(accounts[(i + k) % 3], 5)));
    const results = (await Promise.all(batches.map((b) => holds.placeMany(b)))).flat();
    const ok = results.filter((r) => r.status === 'ok').length;
    expect(ok).toBe(300); // 120 holds of 5 asked of each account, 100 fit in 500
    const placed = batches.flat().filter((_, i) => results[i].status === 'ok');
    const settleBatches = [placed.slice(0, 200), placed.slice(200)].map((chunk) => chunk.map((h) => ({ holdId: h.id, costMicros: 2 })));
    const settled = (await Promise.all(settleBatches.map((b) => holds.settleMany(b)))).flat();
    expect(settled.every((r) => r.status === 'ok')).toBe(true);
    for (const acct of accounts) {
      const b = await books(prisma, acct);
      expect(b).toMatchObject({ held: 0, balance: 500 - 2 * 100 });
      expectInvariants(b);
    }
  });
});
