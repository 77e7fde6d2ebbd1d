import { newId } from '@gateway/contracts';
import { testPrisma } from '../../../../test/support/db';
import { RequestLogService } from './request-log';

// The request log against the real Postgres: rows pushed are written in one batch, a flush waits for them,
// and the retention prunes only what is older than it.
describe('RequestLogService', () => {
  const prisma = testPrisma(4);
  const account = `acct_${newId('t')}`;

  afterAll(async () => {
    await prisma.requestLog.deleteMany({ where: { accountId: account } });
    await prisma.$disconnect();
  });

  const entry = (at: Date, status = 200) => ({
    request_id: newId('req'),
    account_id: account,
    key_id: null,
    method: 'POST',
    path: '/v1/chat/completions',
    model: 'm',
    status,
    error_code: status >= 400 ? 'invalid_request' : null,
    latency_ms: 12,
    stream: false,
    cache: null,
    channel_id: null,
    input_tokens: 3,
    output_tokens: 4,
    cost_micros: 7,
    created_at: at.toISOString(),
  });

  it('writes what was pushed in batches and lists it newest first, with filters', async () => {
    const log = new RequestLogService(prisma as never, { REQUEST_LOG_RETENTION_DAYS: 30, DATABASE_URL: process.env.DATABASE_URL! });
    const t0 = Date.now();
    for (let i = 0; i < 1_500; i++) log.push(entry(new Date(t0 - i * 1000), i % 10 === 0 ? 500 : 200));
    await log.flush();
    expect(await prisma.requestLog.count({ where: { accountId: account } })).toBe(1_500);
    const errors = await log.list({ account_id: account, status: 'error', limit: 500 });
    expect(errors.data).toHaveLength(150);
    expect(errors.data.every((e) => e.status === 500)).toBe(true);
    const first = await log.list({ account_id: account, limit: 10 });
    expect(first.data.map((e) => Date.parse(e.created_at))).toEqual([...first.data.map((e) => Date.parse(e.created_at))].sort((a, b) => b - a));
    const next = await log.list({ account_id: account, limit: 10, before: first.next_before! });
    expect(Date.parse(next.data[0].created_at)).toBeLessThan(Date.parse(first.data[9].created_at));
    await log.onModuleDestroy();
  });

  it('a row the database refuses for good is dropped alone; the rest of its batch is written', async () => {
    const log = new RequestLogService(prisma as never, { REQUEST_LOG_RETENTION_DAYS: 30, DATABASE_URL: process.env.DATABASE_URL! });
    const rows = Array.from({ length: 5 }, () => entry(new Date()));
    // a NUL cannot be stored in text: Postgres refuses the row (and, written as one batch, the whole batch)
    const bad = { ...rows[2], path: '/v1/x\u0000y' };
    for (const r of [rows[0], rows[1], bad, rows[3], rows[4]]) log.push(r);
    await log.flush();
    const written = await prisma.requestLog.findMany({ where: { requestId: { in: rows.map((r) => r.request_id) } } });
    expect(written.map((w) => w.requestId).sort()).toEqual([rows[0], rows[1], rows[3], rows[4]].map((r) => r.request_id).sort());
    // the refused row is not kept to be retried with the next batch (which it would sink again)
    const next = entry(new Date());
    log.push(next);
    await log.flush();
    expect(await prisma.requestLog.findUnique({ where: { requestId: next.request_id } })).not.toBeNull();
  });

  it('prunes rows past the retention and keeps the rest', async () => {
    const log = new RequestLogService(prisma as never, { REQUEST_LOG_RETENTION_DAYS: 2, DATABASE_URL: process.env.DATABASE_URL! });
    const now = new Date();
    const old = [entry(new Date(now.getTime() - 3 * 86_400_000)), entry(new Date(now.getTime() - 5 * 86_400_000))];
    const fresh = entry(new Date(now.getTime() - 86_400_000));
    for (const e of [...old, fresh]) log.push(e);
    await log.flush();
    expect(await log.prune(now)).toBeGreaterThanOrEqual(2);
    const left = await prisma.requestLog.findMany({ where: { requestId: { in: [...old, fresh].map((e) => e.request_id) } } });
    expect(left.map((r) => r.requestId)).toEqual([fresh.request_id]);
    await log.onModuleDestroy();
  });
});
