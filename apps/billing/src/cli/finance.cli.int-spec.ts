import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { billingConfigSchema, ingressConfigSchema, parseConfig } from '@gateway/config';
import { newId, type ExpiredHoldView, type Reconciliation } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { randomUUID } from 'node:crypto';
import { createIngress } from '../../../ingress/src/bootstrap';
import { makeAccount, testPrisma } from '../../../../test/support/db';
import { freePort } from '../../../../test/support/gateway';
import { startBilling } from '../bootstrap';
import { run } from './finance.cli';

// Expired unsettled holds through the whole reporting path: billing's reports over the RPC transport, the
// admin API of ingress (JSON and CSV), and the finance CLI that reads it.
describe('finance CLI and admin reports: expired unsettled holds', () => {
  const env = {
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    REDIS_PREFIX: `test-finance-${randomUUID()}:`,
    ADMIN_TOKEN: 'finance-test-admin-token',
    SWEEP_INTERVAL_MS: '0',
    LOG_LEVEL: 'error',
  };
  let prisma: PrismaClient;
  let billing: INestMicroservice;
  let ingress: NestFastifyApplication;
  let base: string;
  let account: string;
  let expired: string[];
  let afterSetup: string;
  const saved = { url: process.env.GATEWAY_URL, token: process.env.ADMIN_TOKEN };

  beforeAll(async () => {
    prisma = testPrisma(5);
    billing = await startBilling(parseConfig(billingConfigSchema, env));
    const port = await freePort();
    ingress = await createIngress(parseConfig(ingressConfigSchema, { ...env, PORT: String(port) }));
    await ingress.listen(port, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
    process.env.GATEWAY_URL = base;
    process.env.ADMIN_TOKEN = env.ADMIN_TOKEN;

    // two calls whose callers died (their holds expired), one that settled
    account = await makeAccount(prisma, 50_000);
    const place = async (amount: number, requestId: string) => {
      const id = newId('hold');
      await prisma.$queryRaw`SELECT status FROM gw_place_hold(${id}, ${account}, 'key_cli', ${requestId}, 'call'::hold_kind, 'gpt-4o-mini', ${BigInt(amount)}, 600000)`;
      return id;
    };
    expired = [await place(1200, 'req_cli_1'), await place(3400, 'req_cli_2')];
    for (const id of expired) await prisma.$queryRaw`SELECT status FROM gw_release_hold(${id}, 'expired'::hold_state, 'deadline passed')`;
    await prisma.$queryRaw`SELECT status FROM gw_settle_hold(${await place(500, 'req_cli_3')}, ${BigInt(300)})`;
    afterSetup = (await prisma.$queryRaw<Array<{ now: Date }>>`SELECT clock_timestamp() AS now`)[0].now.toISOString();
  }, 60_000);

  afterAll(async () => {
    process.env.GATEWAY_URL = saved.url;
    process.env.ADMIN_TOKEN = saved.token;
    if (saved.url === undefined) delete process.env.GATEWAY_URL;
    if (saved.token === undefined) delete process.env.ADMIN_TOKEN;
    await ingress?.close();
    await billing?.close();
    await prisma?.$disconnect();
  });

  const admin = (route: string, accept = 'application/json') => fetch(`${base}${route}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, accept } });

  async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const code = await run(argv, (s) => lines.push(s));
    return { code, out: lines.join('\n') };
  }

  it('GET /admin/reconciliation carries them per account and in total, as JSON and as CSV', async () => {
    const r = await admin(`/admin/reconciliation?account_id=${account}`);
    expect(r.status).toBe(200);
    const json = (await r.json()) as Reconciliation;
    expect(json).toMatchObject({ ties_out: true, expired_unsettled_holds: 2, expired_unsettled_micros: 4600 });
    expect(json.accounts[0]).toMatchObject({ account_id: account, expired_unsettled_holds: 2, expired_unsettled_micros: 4600, charges_micros: 300 });

    const csv = await admin(`/admin/reconciliation?account_id=${account}`, 'text/csv');
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const [header, row, total] = (await csv.text()).trim().split('\n').map((l) => l.split(','));
    expect(header.slice(-3)).toEqual(['expired_unsettled_holds', 'expired_unsettled_micros', 'ties_out']);
    const cell = (line: string[], column: string) => line[header.indexOf(column)];
    expect(cell(row, 'account_id')).toBe(account);
    expect(cell(row, 'expired_unsettled_holds')).toBe('2');
    expect(cell(row, 'expired_unsettled_micros')).toBe('4600');
    expect(cell(total, 'account_id')).toBe('TOTAL');
    expect(cell(total, 'expired_unsettled_micros')).toBe('4600');
    expect(cell(total, 'ties_out')).toBe('true');
  });

  it('GET /admin/expired-holds lists them; a bad period is a 400', async () => {
    const r = await admin(`/admin/expired-holds?account_id=${account}`);
    expect(r.status).toBe(200);
    const { data } = (await r.json()) as { data: ExpiredHoldView[] };
    expect(data.map((h) => h.id)).toEqual(expired);
    expect(data[1]).toMatchObject({ account_id: account, key_id: 'key_cli', request_id: 'req_cli_2', model: 'gpt-4o-mini', amount_micros: 3400, kind: 'call' });
    expect((await admin(`/admin/expired-holds?account_id=${account}&to=${encodeURIComponent('2000-01-01T00:00:00Z')}`).then((x) => x.json())) as unknown).toEqual({ data: [] });
    expect((await admin('/admin/expired-holds?from=yesterday')).status).toBe(400);
  });

  it('finance reconciliation prints them, and finance expired lists them', async () => {
    const rec = await cli('reconciliation', '--account', account);
    expect(rec.code).toBe(0);
    expect(rec.out).toMatch(/expired\s+expired amount\s+ties out/);
    expect(rec.out).toContain('EXPIRED UNSETTLED: 2 hold(s), $0.004600');
    expect(rec.out).toContain('BOOKS TIE OUT: yes');

    const list = await cli('expired', '--account', account);
    expect(list.code).toBe(0);
    const lines = list.out.split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['hold', 'account', 'key', 'request', 'model', 'amount', 'created', 'expired', 'at']);
    expect(lines[1]).toContain(expired[0]);
    expect(lines[1]).toMatch(/key_cli\s+req_cli_1\s+gpt-4o-mini\s+\$0\.001200/);
    expect(lines[2]).toContain(expired[1]);
    expect(lines[3]).toBe('2 expired unsettled hold(s), $0.004600');

    const later = await cli('expired', '--account', account, '--from', afterSetup);
    expect(later.out).toContain('0 expired unsettled hold(s), $0.000000');
    const json = await cli('expired', '--account', account, '--json');
    expect((JSON.parse(json.out) as ExpiredHoldView[]).map((h) => h.request_id)).toEqual(['req_cli_1', 'req_cli_2']);
  });
});
