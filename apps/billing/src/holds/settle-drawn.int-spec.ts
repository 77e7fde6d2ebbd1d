import { newId, type LeaseSplit } from '@gateway/contracts';
import type { PgPool, PrismaClient } from '@gateway/db';
import { books, expectInvariants, makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import { HoldRepository, type SettleInput } from './hold.repository';
import { holdHistory } from './holds.service';

// The one-step settle of calls whose holds were drawn from a credit lease (gw_settle_drawn_many), against
// Postgres: the draw leaves its lease and the call's hold is written once, settled; replays, a hold split
// off before, a lease that is gone, and concurrent batches racing concurrent splits of the same draws.
describe('settling drawn calls in one step (Postgres)', () => {
  let prisma: PrismaClient;
  let pg: PgPool;
  let holds: HoldRepository;
  const TTL = 60_000;

  beforeAll(() => {
    prisma = testPrisma(20);
    pg = testPg(20);
    holds = new HoldRepository(prisma, pg);
  });
  afterAll(() => Promise.all([prisma.$disconnect(), pg.end()]));

  const lease = async (accountId: string, max: number) => {
    const id = newId('lease');
    const g = await holds.grantLease(id, accountId, max, 1, 1, TTL);
    expect(g.status).toBe('ok');
    return { id, amount: Number(g.amount_micros) };
  };
  const drawn = (accountId: string, leaseId: string, draw: number, cost: number, holdId = newId('hold')): SettleInput & { split: LeaseSplit } => {
    const requestId = newId('req');
    return {
      holdId,
      costMicros: cost,
      usage: { request_id: requestId, account_id: accountId, key_id: null, model: 'm', channel_id: null, tokens: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 2, reasoning_tokens: 0 } },
      split: { lease_id: leaseId, hold_id: holdId, draw_micros: draw, account_id: accountId, key_id: null, request_id: requestId, model: 'm' },
    };
  };
  const leaseLeft = async (id: string) => Number((await prisma.hold.findUniqueOrThrow({ where: { id } })).amountMicros);

  it('writes the hold once, settled, naming its lease, with its charge and its usage record (no event row); a replay changes nothing', async () => {
    const acct = await makeAccount(prisma, 100_000);
    const l = await lease(acct, 10_000);
    const items = [drawn(acct, l.id, 1_000, 300), drawn(acct, l.id, 1_000, 1_200)]; // the second costs more than its draw
    const first = await holds.settleDrawnMany(items, TTL);
    expect(first.map((r) => [r.status, Number(r.charged_micros), Number(r.released_micros)])).toEqual([
      ['ok', 300, 700],
      ['ok', 1_200, 0],
    ]);
    const h = await prisma.hold.findUniqueOrThrow({ where: { id: items[1].holdId }, include: { events: true } });
    expect([h.kind, h.state, Number(h.amountMicros), Number(h.settledMicros), Number(h.overageMicros)]).toEqual(['call', 'settled', 1_000, 1_000, 200]);
    expect(h.leaseId).toBe(l.id);
    expect(h.events).toEqual([]);
    // the admin API's history of it: the one event such a call had before lease_id
    expect(holdHistory(h).map((e) => [e.state, e.amount_micros, e.reason])).toEqual([['settled', 1_200, `drawn from ${l.id}`]]);
    expect(await leaseLeft(l.id)).toBe(8_000);

    // replayed: whole, and twice within one batch
    const again = await holds.settleDrawnMany([...items, items[0]], TTL);
    expect(again.map((r) => r.status)).toEqual(['already_settled', 'already_settled', 'already_settled']);
    expect(await leaseLeft(l.id)).toBe(8_000);
    expect(await prisma.ledgerEntry.count({ where: { holdId: { in: items.map((i) => i.holdId) } } })).toBe(2);
    expect(await prisma.usageRecord.count({ where: { accountId: acct } })).toBe(2);
    const b = await books(prisma, acct);
    expect(b.balance).toBe(100_000 - 1_500);
    expect(b.held).toBe(8_000); // what the lease still holds
    expectInvariants(b);
  });

  it('a draw split off before settles as its hold; a draw whose lease is gone charges as a lost hold does', async () => {
    const acct = await makeAccount(prisma, 100_000);
    const l = await lease(acct, 10_000);
    const early = drawn(acct, l.id, 2_000, 500);
    expect(await holds.splitMany([early.split], TTL)).toEqual(['ok']); // split at an extension
    const [r] = await holds.settleDrawnMany([early], TTL);
    expect([r.status, Number(r.charged_micros)]).toEqual(['ok', 500]);
    expect(await leaseLeft(l.id)).toBe(8_000);

    // the lease expires with a draw in it; the late settle still charges what the call used
    const late = drawn(acct, l.id, 1_000, 400);
    expect((await holds.release(l.id, 'expired', 'test')).status).toBe('ok');
    const [lost] = await holds.settleDrawnMany([late], TTL);
    expect([lost.status, Number(lost.charged_micros)]).toEqual(['ok', 400]);
    const h = await prisma.hold.findUniqueOrThrow({ where: { id: late.holdId } });
    expect(h.state).toBe('settled');
    const b = await books(prisma, acct);
    expect(b.balance).toBe(100_000 - 900);
    expect(b.held).toBe(0);
    expectInvariants(b);
  });

  it('one batch of everything: two accounts, a split-off draw, a duplicate, a cost beyond the balance (debt)', async () => {
    const rich = await makeAccount(prisma, 100_000);
    const poor = await makeAccount(prisma, 10_000);
    const lr = await lease(rich, 10_000);
    const lp = await lease(poor, 10_000); // all of it
    const split = drawn(rich, lr.id, 2_000, 700);
    expect(await holds.splitMany([split.split], TTL)).toEqual(['ok']);
    const a = drawn(rich, lr.id, 1_000, 300);
    // an account's calls are charged in the batch's order, whatever their hold ids (these sort the other way)
    const base = newId('hold');
    const over = drawn(poor, lp.id, 1_000, 15_000, `${base}-2`); // available with its draw: 1,000; the rest is debt
    const after = drawn(poor, lp.id, 1_000, 500, `${base}-1`); // its own draw covers it
    const rows = await holds.settleDrawnMany([over, a, split, a, after], TTL);
    expect(rows.map((r) => [r.status, Number(r.charged_micros), Number(r.debt_micros)])).toEqual([
      ['ok', 1_000, 14_000],
      ['ok', 300, 0],
      ['ok', 700, 0],
      ['already_settled', 300, 0],
      ['ok', 500, 0],
    ]);
    const br = await books(prisma, rich);
    expect([br.balance, br.held, br.debt]).toEqual([100_000 - 1_000, 10_000 - 3_000, 0]);
    expectInvariants(br);
    const bp = await books(prisma, poor);
    expect([bp.balance, bp.held, bp.debt]).toEqual([10_000 - 1_500, 10_000 - 2_000, 14_000]);
    expectInvariants(bp);
    // the ledger's running balance and the usage records follow the calls in order
    const ledger = await prisma.ledgerEntry.findMany({ where: { accountId: poor, kind: 'charge' }, orderBy: { id: 'asc' } });
    expect(ledger.map((e) => [e.holdId, Number(e.amountMicros), Number(e.balanceAfterMicros)])).toEqual([
      [over.holdId, -1_000, 9_000],
      [after.holdId, -500, 8_500],
    ]);
    const usage = await prisma.usageRecord.findMany({ where: { accountId: poor }, orderBy: { id: 'asc' } });
    expect(usage.map((u) => u.holdId)).toEqual([over.holdId, after.holdId]);
  });

  it('the last draw of a closed lease resolves it', async () => {
    const acct = await makeAccount(prisma, 100_000);
    const l = await lease(acct, 3_000);
    const a = drawn(acct, l.id, 1_000, 100);
    const c = drawn(acct, l.id, 2_000, 100);
    expect((await holds.closeLease(l.id, 0)).status).toBe('ok'); // every micro drawn, nothing to give back
    await holds.settleDrawnMany([a], TTL);
    expect((await prisma.hold.findUniqueOrThrow({ where: { id: l.id } })).state).toBe('active');
    await holds.settleDrawnMany([c], TTL);
    const lr = await prisma.hold.findUniqueOrThrow({ where: { id: l.id } });
    expect([lr.state, Number(lr.amountMicros)]).toEqual(['released', 0]);
    const b = await books(prisma, acct);
    expect([b.balance, b.held]).toEqual([100_000 - 200, 0]);
    expectInvariants(b);
  });

  it('concurrent batches and splits of the same draws over two leases: each draw settles once, the books tie', async () => {
    const acct = await makeAccount(prisma, 10_000_000);
    const l1 = await lease(acct, 500_000);
    const l2 = await lease(acct, 500_000);
    const calls = Array.from({ length: 300 }, (_, i) => drawn(acct, i % 2 ? l1.id : l2.id, 1_000 + (i % 7), 100 + (i % 13) * 50));
    // each call's settle arrives three times in different batches (redelivery), and a third of the calls
    // are split at an extension at the same time
    const batches: Array<typeof calls> = [];
    for (let k = 0; k < 3; k++) {
      const order = [...calls].sort(() => Math.random() - 0.5);
      for (let i = 0; i < order.length; i += 40) batches.push(order.slice(i, i + 40));
    }
    const splits = calls.filter((_, i) => i % 3 === 0).map((c) => c.split);
    const results = await Promise.all([
      ...batches.map((b) => holds.settleDrawnMany(b, TTL).then((rows) => rows.map((r, i) => ({ id: b[i].holdId, r })))),
      ...Array.from({ length: 10 }, (_, k) => holds.splitMany(splits.slice(k * 10, k * 10 + 10), TTL)),
    ]);
    const settled = new Map<string, number>();
    for (const group of results.slice(0, batches.length) as Array<Array<{ id: string; r: { status: string } }>>) {
      for (const { id, r } of group) if (r.status === 'ok') settled.set(id, (settled.get(id) ?? 0) + 1);
    }
    expect(settled.size).toBe(300);
    expect([...settled.values()].every((n) => n === 1)).toBe(true);
    const cost = calls.reduce((s, c) => s + c.costMicros, 0);
    const drawnTotal = calls.reduce((s, c) => s + c.split.draw_micros, 0);
    expect((await leaseLeft(l1.id)) + (await leaseLeft(l2.id))).toBe(1_000_000 - drawnTotal);
    expect(await prisma.hold.count({ where: { id: { in: calls.map((c) => c.holdId) }, state: 'settled' } })).toBe(300);
    expect(await prisma.usageRecord.count({ where: { accountId: acct } })).toBe(300);
    const b = await books(prisma, acct);
    expect(b.balance).toBe(10_000_000 - cost);
    expect(b.held).toBe(1_000_000 - drawnTotal);
    expectInvariants(b);
  });
});
