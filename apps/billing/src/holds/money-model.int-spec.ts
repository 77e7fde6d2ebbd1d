import { newId } from '@gateway/contracts';
import type { PgPool, PrismaClient } from '@gateway/db';
import { makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import { ReportRepository } from '../reports/report.repository';
import { ReportsService } from '../reports/reports.service';
import { HoldRepository } from './hold.repository';

// Model-based test: seeded random sequences of top-ups, holds, settles, releases and expiries run against
// Postgres and against a few lines of in-memory arithmetic; after every step the two must agree, and the
// reconciliation report (the finance oracle) must tie out and show the model's balance.

interface AccountModel {
  balance: number;
  held: number;
  debt: number;
  refs: Set<string>;
}
interface HoldModel {
  id: string;
  account: string;
  amount: number;
  state: 'active' | 'settled' | 'released' | 'expired';
}

/** mulberry32: small, seedable, good enough to pick operations */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('billing against an in-memory model', () => {
  let prisma: PrismaClient;
  let holds: HoldRepository;
  let pg: PgPool;
  let reports: ReportsService;

  beforeAll(() => {
    prisma = testPrisma(5);
    pg = testPg(3);
    holds = new HoldRepository(prisma, pg);
    reports = new ReportsService(new ReportRepository(prisma));
  });
  afterAll(() => Promise.all([prisma.$disconnect(), pg.end()]));

  for (const seed of [1, 7, 42]) {
    it(`seed ${seed}: 250 random steps agree with the model after every step`, async () => {
      const random = rng(seed);
      const int = (max: number) => Math.floor(random() * (max + 1));
      const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[int(xs.length - 1)] : undefined);
      const accounts = new Map<string, AccountModel>();
      for (let i = 0; i < 3; i++) {
        const credit = int(300);
        const id = await makeAccount(prisma, credit);
        accounts.set(id, { balance: credit, held: 0, debt: 0, refs: new Set(credit > 0 ? ['initial-credit'] : []) });
      }
      const ids = [...accounts.keys()];
      const all: HoldModel[] = [];
      const log: string[] = [];

      for (let step = 0; step < 250; step++) {
        const op = int(99);
        if (op < 15) {
          // top-up, sometimes repeating a reference
          const id = pick(ids)!;
          const a = accounts.get(id)!;
          const ref = `ref-${int(8)}`;
          const amount = 1 + int(400);
          await prisma.$queryRaw`SELECT status FROM gw_topup(${newId('topup')}, ${id}, ${BigInt(amount)}, ${ref})`;
          log.push(`topup ${id} ${amount} ${ref}`);
          if (!a.refs.has(ref)) {
            a.refs.add(ref);
            a.balance += amount;
            const paid = Math.min(a.debt, a.balance - a.held);
            a.balance -= paid;
            a.debt -= paid;
          }
        } else if (op < 50) {
          const id = pick(ids)!;
          const a = accounts.get(id)!;
          const amount = int(250);
          const hold = { id: newId('hold'), account: id, amount, state: 'active' as const };
          const r = await holds.place({ id: hold.id, accountId: id, keyId: null, requestId: 'r', kind: 'call', model: 'm', amountMicros: amount, ttlMs: 600_000 });
          const expected = a.debt > 0 ? 'account_debt' : a.balance - a.held >= amount ? 'ok' : 'insufficient_balance';
          log.push(`place ${id} ${amount} -> ${r.status}`);
          expect(r.status).toBe(expected);
          if (r.status === 'ok') {
            a.held += amount;
            all.push(hold);
          }
        } else if (op < 75) {
          // settle any hold, resolved ones included (a duplicate settle message)
          const h = pick(all);
          if (!h) continue;
          const a = accounts.get(h.account)!;
          const cost = int(350);
          const r = await holds.settle(h.id, cost);
          log.push(`settle ${h.id} ${cost} -> ${r.status}`);
          if (h.state !== 'active' && h.state !== 'expired') {
            expect(r.status).toBe(`already_${h.state}`);
            continue;
          }
          // an expired hold's settle arrived late: still charged, from what is available now
          expect(r.status).toBe('ok');
          const held = h.state === 'active' ? h.amount : 0;
          const charge = Math.min(cost, a.balance - a.held + held);
          a.held -= held;
          a.balance -= charge;
          a.debt += cost - charge;
          h.state = 'settled';
          expect(Number(r.charged_micros)).toBe(charge);
        } else if (op < 90) {
          const h = pick(all);
          if (!h) continue;
          const r = await holds.release(h.id, 'released', 'model');
          log.push(`release ${h.id} -> ${r.status}`);
          if (h.state !== 'active') {
            expect(r.status).toBe(`already_${h.state}`);
            continue;
          }
          expect(r.status).toBe('ok');
          accounts.get(h.account)!.held -= h.amount;
          h.state = 'released';
        } else {
          // a hold passes its deadline and a sweep runs
          const h = pick(all.filter((x) => x.state === 'active'));
          if (!h) continue;
          await prisma.hold.update({ where: { id: h.id }, data: { expiresAt: new Date(Date.now() - 60_000) } });
          await holds.expireDue(10_000);
          log.push(`expire ${h.id}`);
          accounts.get(h.account)!.held -= h.amount;
          h.state = 'expired';
        }

        for (const [id, m] of accounts) {
          const row = await prisma.account.findUniqueOrThrow({ where: { id } });
          const actual = { balance: Number(row.balanceMicros), held: Number(row.heldMicros), debt: Number(row.debtMicros) };
          if (actual.balance !== m.balance || actual.held !== m.held || actual.debt !== m.debt) {
            throw new Error(`step ${step}: ${id} is ${JSON.stringify(actual)}, the model says ${JSON.stringify({ balance: m.balance, held: m.held, debt: m.debt })}\n${log.slice(-8).join('\n')}`);
          }
          expect(m.balance - m.held).toBeGreaterThanOrEqual(0);
        }
        if (step % 10 === 9 || step === 249) {
          for (const [id, m] of accounts) {
            const rec = await reports.reconciliation({ from: new Date(0).toISOString(), to: new Date(Date.now() + 60_000).toISOString(), account_id: id });
            expect(rec.ties_out).toBe(true);
            expect(rec.accounts[0]).toMatchObject({ closing_balance_micros: m.balance, open_holds_micros: m.held, debt_micros: m.debt });
          }
        }
      }
      // the run exercised every path
      expect(all.some((h) => h.state === 'settled') && all.some((h) => h.state === 'released') && log.some((l) => l.startsWith('expire'))).toBe(true);
      expect(log.some((l) => l.endsWith('insufficient_balance'))).toBe(true);
    }, 60_000);
  }
});
