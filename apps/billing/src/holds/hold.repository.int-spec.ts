import { newId } from '@gateway/contracts';
import type { PgPool, PrismaClient } from '@gateway/db';
import { books, expectInvariants, makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import { HoldRepository } from './hold.repository';

describe('HoldRepository against Postgres', () => {
  let prisma: PrismaClient;
  let holds: HoldRepository;
  let pg: PgPool;

  beforeAll(() => {
    prisma = testPrisma(40);
    pg = testPg(20);
    holds = new HoldRepository(prisma, pg);
  });
  afterAll(() => Promise.all([prisma.$disconnect(), pg.end()]));

  const place = (accountId: string, amount: number, ttlMs = 60_000) =>
    holds.place({ id: newId('hold'), accountId, keyId: null, requestId: newId('req'), kind: 'call', model: 'm', amountMicros: amount, ttlMs }).then((r) => r);

  it('200 concurrent holds of 7 on a balance of 1000: exactly 142 succeed', async () => {
    const acct = await makeAccount(prisma, 1000);
    const results = await Promise.all(Array.from({ length: 200 }, () => place(acct, 7)));
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(142);
    expect(results.filter((r) => r.status === 'insufficient_balance')).toHaveLength(58);
    const b = await books(prisma, acct);
    expect(b.held).toBe(994);
    expect(b.activeHolds).toBe(142);
    expectInvariants(b);
  });

  it('settles a hold exactly once under concurrent settles, releases and sweeps', async () => {
    const acct = await makeAccount(prisma, 1000);
    const id = newId('hold');
    await holds.place({ id, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 100, ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 5)); // past its deadline, so the sweepers compete too
    const outcomes = await Promise.all([
      ...Array.from({ length: 100 }, () => holds.settle(id, 60).then((r) => r.status)),
      ...Array.from({ length: 20 }, () => holds.release(id, 'released', 'test').then((r) => r.status)),
      // two sweepers (they also expire other tests' overdue holds, so their counts say nothing about this one)
      holds.expireDue(1000),
      holds.expireDue(1000),
    ]);
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id } });
    const events = (await prisma.holdEvent.findMany({ where: { holdId: id }, orderBy: { id: 'asc' } })).map((e) => e.state);
    // one resolution, or an expiry that a late settle then turned into a charge (the call was served)
    const settles = outcomes.slice(0, 100).filter((s) => s === 'ok').length;
    const releases = outcomes.slice(100, 120).filter((s) => s === 'ok').length;
    expect(settles).toBeLessThanOrEqual(1);
    expect(settles + releases).toBeLessThanOrEqual(1);
    if (events.length === 3) expect(events).toEqual(['active', 'expired', 'settled']);
    else expect(events).toEqual(['active', hold.state]);
    expect(hold.state === 'settled').toBe(settles === 1);
    const charges = await prisma.ledgerEntry.count({ where: { holdId: id } });
    expect(charges).toBe(settles);
    const b = await books(prisma, acct);
    expect(b.held).toBe(0);
    expect(b.balance).toBe(hold.state === 'settled' ? 940 : 1000);
    expectInvariants(b);
  });

  it('a settle that arrives after its hold expired still charges, beyond the hold as debt', async () => {
    const acct = await makeAccount(prisma, 500);
    const id = newId('hold');
    await holds.place({ id, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 200, ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    await holds.release(id, 'expired', 'deadline passed'); // what the sweeper does
    expect((await books(prisma, acct)).held).toBe(0);
    // meanwhile another call holds most of the balance
    const other = newId('hold');
    expect((await holds.place({ id: other, accountId: acct, keyId: null, requestId: 'r2', kind: 'call', model: 'm', amountMicros: 400, ttlMs: 60_000 })).status).toBe('ok');
    const late = await holds.settle(id, 150); // 100 available: 100 charged, 50 owed
    expect(late).toMatchObject({ status: 'ok', charged_micros: 100n, debt_micros: 50n });
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id } });
    expect(hold.state).toBe('settled');
    expect((await holds.settle(id, 150)).status).toBe('already_settled');
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 400, held: 400, debt: 50 });
    expectInvariants(b);
  });

  it('placing is idempotent on the hold id: duplicates, even concurrent ones, give one hold', async () => {
    const acct = await makeAccount(prisma, 1000);
    const id = newId('hold');
    const one = { id, accountId: acct, keyId: null, requestId: 'dup', kind: 'call' as const, model: 'm', amountMicros: 300, ttlMs: 60_000 };
    const rows = await Promise.all([...Array.from({ length: 10 }, () => holds.place(one)), holds.placeMany([one, one, one])]);
    expect(rows.flat().every((r) => r.status === 'ok')).toBe(true);
    expect(await prisma.hold.count({ where: { id } })).toBe(1);
    let b = await books(prisma, acct);
    expect(b).toMatchObject({ held: 300, activeHolds: 1 });
    expectInvariants(b);
    // after the settle a replayed place still changes nothing
    await holds.settle(id, 100);
    expect((await holds.place(one)).status).toBe('ok');
    b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 900, held: 0, activeHolds: 0 });
    expectInvariants(b);
  });

  it('a settle whose hold was lost (a Postgres crash after a fast commit) still charges its account', async () => {
    const acct = await makeAccount(prisma, 100);
    const id = newId('hold');
    const usage = { request_id: newId('req'), account_id: acct, key_id: null, model: 'm', channel_id: null, tokens: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 2, reasoning_tokens: 0 } };
    const [first, again] = await Promise.all([holds.settleMany([{ holdId: id, costMicros: 130, usage }]), holds.settleMany([{ holdId: id, costMicros: 130, usage }])]);
    expect([first[0].status, again[0].status].sort()).toEqual(['already_settled', 'ok']);
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id } });
    expect(hold).toMatchObject({ state: 'settled', amountMicros: 0n, overageMicros: 100n, debtMicros: 30n });
    expect(await prisma.usageRecord.count({ where: { requestId: usage.request_id } })).toBe(1);
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 0, held: 0, debt: 30 });
    expectInvariants(b);
    // without an account to charge, a settle of an unknown hold is still refused
    expect((await holds.settle(newId('hold'), 5)).status).toBe('hold_not_found');
  });

  it('extends active holds only, never backwards', async () => {
    const acct = await makeAccount(prisma, 1000);
    const a = newId('hold');
    const b = newId('hold');
    await holds.place({ id: a, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 1, ttlMs: 1000 });
    await holds.place({ id: b, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 1, ttlMs: 1000 });
    await holds.settle(b, 1);
    const before = (await prisma.hold.findUniqueOrThrow({ where: { id: a } })).expiresAt.getTime();
    expect(await holds.extend([a, b, 'hold_missing'], 60_000)).toBe(1);
    const after = (await prisma.hold.findUniqueOrThrow({ where: { id: a } })).expiresAt.getTime();
    expect(after - before).toBeGreaterThan(50_000);
    expect(await holds.extend([a], 10)).toBe(1);
    expect((await prisma.hold.findUniqueOrThrow({ where: { id: a } })).expiresAt.getTime()).toBe(after);
  });

  it('settles for the cost and releases the rest; a duplicate settle changes nothing', async () => {
    const acct = await makeAccount(prisma, 1000);
    const id = newId('hold');
    await holds.place({ id, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 300, ttlMs: 60_000 });
    const first = await holds.settle(id, 120);
    expect(first).toMatchObject({ status: 'ok', charged_micros: 120n, released_micros: 180n });
    const again = await holds.settle(id, 120);
    expect(again.status).toBe('already_settled');
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 880, held: 0 });
    expectInvariants(b);
  });

  it('charges an overage while the balance covers it and records the rest as debt that blocks new holds', async () => {
    const acct = await makeAccount(prisma, 100);
    const id = newId('hold');
    await holds.place({ id, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 50, ttlMs: 60_000 });
    const r = await holds.settle(id, 130); // 100 available in all -> 100 charged, 30 debt
    expect(r).toMatchObject({ status: 'ok', charged_micros: 100n, debt_micros: 30n });
    let b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 0, held: 0, debt: 30 });
    expectInvariants(b);
    expect((await place(acct, 0)).status).toBe('account_debt');
    // a top-up pays the debt first
    await prisma.$queryRaw`SELECT status FROM gw_topup(${newId('topup')}, ${acct}, 50::bigint, 'pay')`;
    b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 20, debt: 0 });
    expectInvariants(b);
    expect((await place(acct, 20)).status).toBe('ok');
  });

  it('top-ups are idempotent on their reference under concurrency', async () => {
    const acct = await makeAccount(prisma, 0);
    const rows = await Promise.all(
      Array.from({ length: 30 }, () => prisma.$queryRaw<Array<{ status: string }>>`SELECT status FROM gw_topup(${newId('topup')}, ${acct}, 500::bigint, 'wire-42')`),
    );
    expect(rows.filter((r) => r[0].status === 'ok')).toHaveLength(1);
    const b = await books(prisma, acct);
    expect(b.balance).toBe(500);
    expectInvariants(b);
  });

  it('the sweeper releases only holds past their deadline', async () => {
    const acct = await makeAccount(prisma, 1000);
    const due = newId('hold');
    const live = newId('hold');
    await holds.place({ id: due, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 10, ttlMs: 1 });
    await holds.place({ id: live, accountId: acct, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: 10, ttlMs: 60_000 });
    await new Promise((r) => setTimeout(r, 5));
    await holds.expireDue(1000);
    const states = await prisma.hold.findMany({ where: { id: { in: [due, live] } }, select: { id: true, state: true } });
    expect(Object.fromEntries(states.map((s) => [s.id, s.state]))).toEqual({ [due]: 'expired', [live]: 'active' });
    const b = await books(prisma, acct);
    expect(b.held).toBe(10);
    expectInvariants(b);
  });

  it('the database refuses a row that would break available >= 0, whatever the caller', async () => {
    const acct = await makeAccount(prisma, 10);
    await expect(prisma.account.update({ where: { id: acct }, data: { heldMicros: 11n } })).rejects.toThrow(/accounts_available_nonnegative/);
  });
});
