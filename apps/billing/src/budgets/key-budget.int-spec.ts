import { DomainError, newId } from '@gateway/contracts';
import { billingConfigSchema, parseConfig } from '@gateway/config';
import { createPgPool, type PgPool, type PrismaClient } from '@gateway/db';
import { books, expectInvariants, makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import { HoldRepository, type PlaceRow } from '../holds/hold.repository';
import { HoldsService } from '../holds/holds.service';
import { BudgetRepository } from './budget.repository';

// Per-key budgets against the real Postgres: enforced inside gw_place_hold, atomically with the hold, and
// kept per period by the functions that move money.
describe('key budgets', () => {
  let prisma: PrismaClient;
  let pg: PgPool;
  let holds: HoldRepository;
  const pools: PgPool[] = [];

  beforeAll(() => {
    prisma = testPrisma(10);
    pg = testPg(20);
    holds = new HoldRepository(prisma, pg);
  });
  afterAll(() => Promise.all([prisma.$disconnect(), pg.end(), ...pools.map((p) => p.end())]));

  const makeKey = async (accountId: string, limitMicros: number, period: 'day' | 'week' | 'month' = 'day') => {
    const id = newId('key');
    await prisma.apiKey.create({
      data: { id, accountId, name: 'budgeted', keyHash: newId('hash'), prefix: 'sk-test', budget: { create: { limitMicros: BigInt(limitMicros), period } } },
    });
    return id;
  };

  const placeWith = (repo: HoldRepository, accountId: string, keyId: string, amount: number, ttlMs = 60_000) => {
    const id = newId('hold');
    return repo.place({ id, accountId, keyId, requestId: newId('req'), kind: 'call', model: 'm', amountMicros: amount, ttlMs }).then((r) => ({ id, amount, ...r }));
  };
  const place = (accountId: string, keyId: string, amount: number, ttlMs?: number) => placeWith(holds, accountId, keyId, amount, ttlMs);

  const usage = async (keyId: string) =>
    (await prisma.keyBudgetUsage.findMany({ where: { keyId }, orderBy: { periodStart: 'asc' } })).map((u) => ({
      period_start: u.periodStart.toISOString(),
      spent: Number(u.spentMicros),
      held: Number(u.heldMicros),
    }));

  /** The accepted places never pass the limit, and each refused one did not fit even in what was left at the end. */
  const expectTight = <R extends { amount: number } & PlaceRow>(results: R[], limit: number) => {
    const accepted = results.filter((r) => r.status === 'ok');
    const refused = results.filter((r) => r.status !== 'ok');
    const held = accepted.reduce((s, r) => s + r.amount, 0);
    expect(held).toBeLessThanOrEqual(limit);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe('key_budget_exceeded');
      expect(r.amount).toBeGreaterThan(limit - held);
    }
    return { accepted, held };
  };

  const LIMIT = 20_000;
  // 50 different amounts, 35,825 micros together: far more than the budget, and each smaller than it
  const amounts = Array.from({ length: 50 }, (_, i) => 300 + 17 * i);

  it('50 concurrent places over a daily budget, each its own transaction: no overshoot; settles move held to spent; then a place past the limit is refused', async () => {
    const acct = await makeAccount(prisma, 10_000_000);
    const key = await makeKey(acct, LIMIT);
    const results = await Promise.all(amounts.map((a) => place(acct, key, a)));
    const { accepted, held } = expectTight(results, LIMIT);
    const [period] = await usage(key);
    expect(period).toMatchObject({ spent: 0, held });
    expect((await books(prisma, acct)).held).toBe(held);

    // settles charge less or more than held: held goes to 0, the costs become spent
    const cost = (r: { amount: number }, i: number) => (i % 2 === 0 ? r.amount - 40 : r.amount + 25);
    await Promise.all(accepted.map((r, i) => holds.settle(r.id, cost(r, i))));
    const spent = accepted.reduce((s, r, i) => s + cost(r, i), 0);
    expect(await usage(key)).toEqual([{ period_start: period.period_start, spent, held: 0 }]);
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ held: 0, balance: 10_000_000 - spent });
    expectInvariants(b);

    // one micro more than what is left is refused; what is left exactly fits
    const left = Math.max(LIMIT - spent, 0);
    const over = await place(acct, key, left + 1);
    expect(over.status).toBe('key_budget_exceeded');
    expect(Number(over.available_micros)).toBe(left);
    expect(over.expires_at?.toISOString()).toBe(new Date(new Date(period.period_start).getTime() + 86_400_000).toISOString());
    if (left > 0) expect((await place(acct, key, left)).status).toBe('ok');
    // a refusal moves nothing
    expect((await books(prisma, acct)).held).toBe(left > 0 ? left : 0);
  });

  it('the same through the billing service with group commit (many places of one key in one statement), and a 402 that names the budget', async () => {
    const config = parseConfig(billingConfigSchema, { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL, SWEEP_INTERVAL_MS: '0' });
    const service = new HoldsService(holds, config, new BudgetRepository(prisma));
    const acct = await makeAccount(prisma, 10_000_000);
    const key = await makeKey(acct, LIMIT);
    const outcomes = await Promise.all(
      amounts.map((amount) =>
        service.place({ account_id: acct, key_id: key, request_id: newId('req'), model: 'm', amount_micros: amount }).then(
          (ok) => ({ amount, ok, err: undefined as DomainError | undefined }),
          (err: DomainError) => ({ amount, ok: undefined, err }),
        ),
      ),
    );
    const held = outcomes.filter((o) => o.ok).reduce((s, o) => s + o.amount, 0);
    expect(held).toBeLessThanOrEqual(LIMIT);
    const refused = outcomes.filter((o) => o.err);
    expect(refused.length).toBeGreaterThan(0);
    for (const o of refused) {
      expect(o.amount).toBeGreaterThan(LIMIT - held);
      expect(o.err).toBeInstanceOf(DomainError);
      expect(o.err!.code).toBe('insufficient_balance');
      expect(o.err!.status).toBe(402);
      expect(o.err!.message).toMatch(/^this API key's budget of \$0\.020000 per day is spent/);
      expect(o.err!.message).toMatch(/resets at \d{4}-\d\d-\d\dT00:00:00\.000Z$/);
      expect(o.err!.message).not.toMatch(/balance/);
    }
    expect((await usage(key))[0]).toMatchObject({ spent: 0, held });
    expect((await books(prisma, acct)).held).toBe(held);
  });

  it('a release and an expiry give the held part back; a late settle after expiry still counts as spent', async () => {
    const acct = await makeAccount(prisma, 1_000_000);
    const key = await makeKey(acct, 1000);
    const a = await place(acct, key, 600);
    expect((await place(acct, key, 401)).status).toBe('key_budget_exceeded');
    await holds.release(a.id, 'released', 'test');
    expect((await usage(key))[0]).toMatchObject({ spent: 0, held: 0 });

    const b = await place(acct, key, 700, 1);
    await new Promise((r) => setTimeout(r, 10));
    await holds.expireDue(10_000);
    expect((await prisma.hold.findUniqueOrThrow({ where: { id: b.id } })).state).toBe('expired');
    expect((await usage(key))[0]).toMatchObject({ spent: 0, held: 0 });

    const c = await place(acct, key, 1000);
    expect(c.status).toBe('ok');
    // the expired call's settle arrives late: charged, and spent in the budget, with nothing held to give back
    await holds.settle(b.id, 300);
    expect((await usage(key))[0]).toMatchObject({ spent: 300, held: 1000 });
    expect((await place(acct, key, 1)).status).toBe('key_budget_exceeded');
    await holds.settle(c.id, 200);
    expect((await usage(key))[0]).toMatchObject({ spent: 500, held: 0 });
    expectInvariants(await books(prisma, acct));
  });

  it('a key without a budget is not counted anywhere', async () => {
    const acct = await makeAccount(prisma, 1_000_000);
    const key = newId('key');
    await prisma.apiKey.create({ data: { id: key, accountId: acct, name: 'free', keyHash: newId('hash'), prefix: 'sk-test' } });
    const h = await place(acct, key, 900_000);
    expect(h.status).toBe('ok');
    await holds.settle(h.id, 800_000);
    expect((await prisma.hold.findUniqueOrThrow({ where: { id: h.id } })).budgetPeriodStart).toBeNull();
    expect(await usage(key)).toEqual([]);
  });

  describe('periods, on a clock the test sets (gateway.now)', () => {
    /** A repository whose connections see `at` as the time (budget periods only; hold deadlines stay on now()). */
    const at = (iso: string) => {
      const pool = createPgPool(process.env.DATABASE_URL as string, 4, { options: `-c gateway.now=${iso}` });
      pools.push(pool);
      return new HoldRepository(prisma, pool);
    };

    it('what day D spent does not count in D+1; a hold placed in D and settled in D+1 corrects D', async () => {
      const acct = await makeAccount(prisma, 1_000_000);
      const key = await makeKey(acct, 1000);
      const dayD = at('2026-12-07T23:00:00Z');
      const h1 = await placeWith(dayD, acct, key, 500);
      await dayD.settle(h1.id, 400);
      const h2 = await placeWith(dayD, acct, key, 300);
      expect(h2.status).toBe('ok');
      const refused = await placeWith(dayD, acct, key, 301);
      expect(refused.status).toBe('key_budget_exceeded');
      expect(refused.expires_at?.toISOString()).toBe('2026-12-08T00:00:00.000Z');
      expect(Number(refused.available_micros)).toBe(300);

      const dayD1 = at('2026-12-08T00:30:00Z');
      const h3 = await placeWith(dayD1, acct, key, 1000);
      expect(h3.status).toBe('ok');
      // h2 remembers its period: its settle in D+1 fixes D's counters, not D+1's
      expect((await prisma.hold.findUniqueOrThrow({ where: { id: h2.id } })).budgetPeriodStart?.toISOString()).toBe('2026-12-07T00:00:00.000Z');
      await dayD1.settle(h2.id, 350);
      expect(await usage(key)).toEqual([
        { period_start: '2026-12-07T00:00:00.000Z', spent: 750, held: 0 },
        { period_start: '2026-12-08T00:00:00.000Z', spent: 0, held: 1000 },
      ]);
      await dayD1.release(h3.id, 'released', 'test');
      expect((await usage(key))[1]).toEqual({ period_start: '2026-12-08T00:00:00.000Z', spent: 0, held: 0 });
      expectInvariants(await books(prisma, acct));
    });

    it('weeks start on Monday 00:00 UTC, months on the 1st', async () => {
      const acct = await makeAccount(prisma, 1_000_000);
      const weekly = await makeKey(acct, 100, 'week');
      const monthly = await makeKey(acct, 100, 'month');
      // Sunday 23:59 and Monday 00:00 are in two weeks
      const sunday = await placeWith(at('2026-12-06T23:59:59Z'), acct, weekly, 100);
      const monday = await placeWith(at('2026-12-07T00:00:00Z'), acct, weekly, 100);
      expect([sunday.status, monday.status]).toEqual(['ok', 'ok']);
      expect((await placeWith(at('2026-12-13T23:59:59Z'), acct, weekly, 1)).expires_at?.toISOString()).toBe('2026-12-14T00:00:00.000Z');
      expect((await usage(weekly)).map((u) => u.period_start)).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);

      const dec = await placeWith(at('2026-12-31T23:59:59Z'), acct, monthly, 100);
      const refused = await placeWith(at('2026-12-01T00:00:00Z'), acct, monthly, 1);
      const jan = await placeWith(at('2027-01-01T00:00:00Z'), acct, monthly, 100);
      expect([dec.status, refused.status, jan.status]).toEqual(['ok', 'key_budget_exceeded', 'ok']);
      expect(refused.expires_at?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    });
  });
});
