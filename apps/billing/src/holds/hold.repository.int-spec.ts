import { newId } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { books, expectInvariants, makeAccount, testPrisma } from '../../../../test/support/db';
import { HoldRepository } from './hold.repository';

describe('HoldRepository against Postgres', () => {
  let prisma: PrismaClient;
  let holds: HoldRepository;

  beforeAll(() => {
    prisma = testPrisma(40);
    holds = new HoldRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

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
    const wins = outcomes.filter((s) => s === 'ok').length + (hold.state === 'expired' ? 1 : 0);
    expect(wins).toBe(1);
    const events = await prisma.holdEvent.findMany({ where: { holdId: id } });
    expect(events).toHaveLength(2); // active, then exactly one resolution
    const b = await books(prisma, acct);
    expect(b.held).toBe(0);
    expect(b.balance).toBe(hold.state === 'settled' ? 940 : 1000);
    expectInvariants(b);
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
