import { newId } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { makeAccount, testPrisma } from '../../../../test/support/db';
import { ReportRepository } from './report.repository';
import { ReportsService } from './reports.service';

// What a crash cannot save, as finance sees it: holds that expired and were never settled, per account and in
// total on the reconciliation, and one by one in the expired-holds report.
describe('expired unsettled holds in the finance reports, against Postgres', () => {
  let prisma: PrismaClient;
  let reports: ReportsService;

  beforeAll(() => {
    prisma = testPrisma(5);
    reports = new ReportsService(new ReportRepository(prisma));
  });
  afterAll(() => prisma.$disconnect());

  const dbNow = async () => (await prisma.$queryRaw<Array<{ now: Date }>>`SELECT now() AS now`)[0].now;

  async function place(accountId: string, amount: number, opts: { keyId?: string; requestId?: string; model?: string; kind?: 'call' | 'task' } = {}): Promise<string> {
    const id = newId('hold');
    const [r] = await prisma.$queryRaw<Array<{ status: string }>>`
      SELECT status FROM gw_place_hold(${id}, ${accountId}, ${opts.keyId ?? null}, ${opts.requestId ?? newId('req')}, ${opts.kind ?? 'call'}::hold_kind,
                                       ${opts.model ?? 'gpt-4o-mini'}, ${BigInt(amount)}, 600000)`;
    expect(r.status).toBe('ok');
    return id;
  }
  /** what the sweeper does to a hold past its deadline */
  const expire = async (id: string) => {
    const [r] = await prisma.$queryRaw<Array<{ status: string }>>`SELECT status FROM gw_release_hold(${id}, 'expired'::hold_state, 'deadline passed')`;
    expect(r.status).toBe('ok');
  };
  const settle = (id: string, cost: number) => prisma.$queryRaw`SELECT status FROM gw_settle_hold(${id}, ${BigInt(cost)})`;
  const release = (id: string) => prisma.$queryRaw`SELECT status FROM gw_release_hold(${id}, 'released'::hold_state, 'upstream failed')`;

  it('counts and sums the holds that expired unsettled in the period, per account and in total, and lists them', async () => {
    const a = await makeAccount(prisma, 100_000);
    const b = await makeAccount(prisma, 100_000);
    const before = await place(a, 111); // expires before the period
    await expire(before);
    const from = await dbNow();

    const crashed1 = await place(a, 1000, { keyId: 'key_1', requestId: 'req_crashed_1', model: 'gpt-4o' });
    const crashed2 = await place(a, 2500, { keyId: 'key_1', requestId: 'req_crashed_2', kind: 'task', model: 'sora-2' });
    const lateSettled = await place(a, 700); // expired, then its settle arrived after all: billed, not lost
    const settled = await place(a, 400);
    const released = await place(a, 300);
    const active = await place(a, 50);
    const other = await place(b, 9000, { requestId: 'req_other' });
    await expire(crashed1);
    await expire(crashed2);
    await expire(lateSettled);
    await settle(lateSettled, 650);
    await settle(settled, 100);
    await release(released);
    await expire(other);
    const to = new Date((await dbNow()).getTime() + 1);

    const afterwards = await place(a, 222); // expires after the period
    await expire(afterwards);

    const period = { from: from.toISOString(), to: to.toISOString() };
    const ra = await reports.reconciliation({ ...period, account_id: a });
    expect(ra.accounts).toHaveLength(1);
    expect(ra.accounts[0]).toMatchObject({ account_id: a, expired_unsettled_holds: 2, expired_unsettled_micros: 3500, ties_out: true });
    expect(ra).toMatchObject({ expired_unsettled_holds: 2, expired_unsettled_micros: 3500, ties_out: true });
    expect(active).toBeTruthy();

    // every account's row, and the totals are their sums
    const all = await reports.reconciliation(period);
    expect(all.accounts.find((r) => r.account_id === b)).toMatchObject({ expired_unsettled_holds: 1, expired_unsettled_micros: 9000 });
    expect(all.expired_unsettled_holds).toBe(all.accounts.reduce((n, r) => n + r.expired_unsettled_holds, 0));
    expect(all.expired_unsettled_micros).toBe(all.accounts.reduce((n, r) => n + r.expired_unsettled_micros, 0));
    expect(all.expired_unsettled_holds).toBeGreaterThanOrEqual(3);

    // the period whose end is now still ties out with the account row (the expired holds left held_micros)
    const upToNow = await reports.reconciliation({ from: from.toISOString(), to: new Date(Date.now() + 60_000).toISOString(), account_id: a });
    expect(upToNow.accounts[0]).toMatchObject({ expired_unsettled_holds: 3, expired_unsettled_micros: 3722, open_holds_micros: 50, ties_out: true });

    const listed = await reports.expiredHolds({ ...period, account_id: a });
    expect(listed.map((h) => h.id)).toEqual([crashed1, crashed2]);
    expect(listed[0]).toMatchObject({ account_id: a, key_id: 'key_1', request_id: 'req_crashed_1', kind: 'call', model: 'gpt-4o', amount_micros: 1000 });
    expect(listed[1]).toMatchObject({ request_id: 'req_crashed_2', kind: 'task', model: 'sora-2', amount_micros: 2500 });
    const row = await prisma.hold.findUniqueOrThrow({ where: { id: crashed1 } });
    expect(listed[0].created_at).toBe(row.createdAt.toISOString());
    expect(listed[0].expired_at).toBe(row.resolvedAt!.toISOString());
    expect(new Date(listed[0].expired_at) >= from && new Date(listed[0].expired_at) < to).toBe(true);

    const both = await reports.expiredHolds(period);
    expect(both.map((h) => h.id)).toEqual(expect.arrayContaining([crashed1, crashed2, other]));
    expect(both.map((h) => h.id)).not.toEqual(expect.arrayContaining([before]));
    expect(both.map((h) => h.id)).not.toEqual(expect.arrayContaining([afterwards]));
    expect(await reports.expiredHolds({ ...period, account_id: a, limit: 1 })).toHaveLength(1);
  });

  it('an account with nothing expired shows zeros', async () => {
    const a = await makeAccount(prisma, 1000);
    await settle(await place(a, 100), 60);
    const r = await reports.reconciliation({ from: new Date(0).toISOString(), to: new Date(Date.now() + 60_000).toISOString(), account_id: a });
    expect(r).toMatchObject({ expired_unsettled_holds: 0, expired_unsettled_micros: 0, ties_out: true });
    expect(r.accounts[0]).toMatchObject({ expired_unsettled_holds: 0, expired_unsettled_micros: 0 });
    expect(await reports.expiredHolds({ from: new Date(0).toISOString(), to: new Date(Date.now() + 60_000).toISOString(), account_id: a })).toEqual([]);
  });
});
