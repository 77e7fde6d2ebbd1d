import type { AccountView, KeyView, LedgerEntryView, ModelPriceView, ModelView, Reconciliation, Statement, UsageGrouped, UsageGroupRow } from '@gateway/contracts';
import { books, expectInvariants, testPrisma } from './support/db';
import { adminCall, apiCall, newAccount, settledAccount, type StartedGateway, startGateway } from './support/gateway';

// The console's money routes (issue 12) through the started system: refunds and adjustments (idempotent,
// who and why, a debit bounded by the available balance, under concurrency), usage grouped by key, model
// and day against the usage records, statements with running balances and the unit prices each call was
// charged at across a price change, and what the finance token may read and may not do.
describe('console money: refunds, adjustments, usage, statements, price history', () => {
  let g: StartedGateway;
  const prisma = testPrisma(4);

  beforeAll(async () => {
    g = await startGateway();
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await prisma.$disconnect();
  }, 30_000);

  const call = <T = Record<string, unknown>>(token: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) =>
    apiCall<T>(g, token, method, route, body, headers);
  const admin = <T = Record<string, unknown>>(method: string, route: string, body?: unknown, headers?: Record<string, string>) => call<T>(g.adminToken, method, route, body, headers);
  const finance = <T = Record<string, unknown>>(method: string, route: string, body?: unknown, headers?: Record<string, string>) => call<T>(g.financeToken, method, route, body, headers);

  /** A chat call on a key; resolves with the request id ingress gave it. */
  async function chat(key: string, model: string, words = 5): Promise<string> {
    const r = await fetch(`${g.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, max_tokens: 200, messages: [{ role: 'user', content: `[[mock:reply=${Array.from({ length: words }, (_, i) => `w${i}`).join(' ')}]] hello` }] }),
    });
    if (r.status !== 200) throw new Error(`chat ${model}: ${r.status} ${await r.text()}`);
    await r.text();
    return r.headers.get('x-tt-request-id')!;
  }

  /** A chat model served by the mock upstream, under its own channel. */
  async function mockModel(id: string, pricing: Record<string, number>, headers: Record<string, string> = {}) {
    const m = await admin<ModelView>('POST', '/admin/models', { id, kind: 'chat', pricing }, headers);
    expect(m.status).toBe(201);
    const c = await admin('POST', '/admin/channels', { name: `mock-${id}`, provider: 'openai', base_url: `${g.mockBase}/v1`, api_key: 'k', models: { [id]: 'gpt-4o-mini' } });
    expect(c.status).toBe(201);
    return m.json;
  }

  const ledgerSum = async (accountId: string) => Number((await prisma.ledgerEntry.aggregate({ where: { accountId }, _sum: { amountMicros: true } }))._sum.amountMicros ?? 0n);

  const parseCsv = (text: string) => {
    const [header, ...rows] = text.trimEnd().split('\n').map((l) => l.split(','));
    return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
  };

  it('refunds and adjustments: idempotent on reference, with reason and actor; a debit beyond the available balance is a 409 that moves nothing', async () => {
    const a = await newAccount(g, 1_000_000);
    const requestId = await chat(a.key, 'gpt-4o-mini');
    await settledAccount(g, a.id);
    const before = (await settledAccount(g, a.id)).balance_micros;

    const refund = await admin<LedgerEntryView>('POST', `/admin/accounts/${a.id}/refunds`, { amount_micros: 5000, reference: 'rf-1', reason: 'outage credit', request_id: requestId }, { 'x-tt-actor': 'dana@example.com' });
    expect(refund.status).toBe(201);
    expect(refund.json).toEqual<LedgerEntryView & { duplicate: boolean }>({
      id: expect.any(Number),
      account_id: a.id,
      kind: 'refund',
      amount_micros: 5000,
      balance_after_micros: before + 5000,
      reference: 'rf-1',
      reason: 'outage credit',
      actor: 'dana@example.com',
      created_at: expect.any(String),
      duplicate: false,
    });
    // the same reference again (even with another amount): the first entry, 200, nothing moved
    const again = await admin<LedgerEntryView>('POST', `/admin/accounts/${a.id}/refunds`, { amount_micros: 7000, reference: 'rf-1', reason: 'twice' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ ...refund.json, duplicate: true });
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id, kind: 'refund' } })).toBe(1);

    // validation: a reason is required, amounts are positive (refund) or non-zero (adjustment), a refunded request is this account's
    expect((await admin('POST', `/admin/accounts/${a.id}/refunds`, { amount_micros: 5000, reference: 'rf-2' })).status).toBe(400);
    expect((await admin('POST', `/admin/accounts/${a.id}/refunds`, { amount_micros: -5, reference: 'rf-2', reason: 'x' })).status).toBe(400);
    expect((await admin('POST', `/admin/accounts/${a.id}/adjustments`, { amount_micros: 0, reference: 'adj-0', reason: 'x' })).status).toBe(400);
    const other = await newAccount(g, 1000);
    expect((await admin('POST', `/admin/accounts/${other.id}/refunds`, { amount_micros: 5, reference: 'rf-x', reason: 'x', request_id: requestId })).status).toBe(404);
    expect((await admin('POST', '/admin/accounts/acct_nope/adjustments', { amount_micros: 5, reference: 'adj-x', reason: 'x' })).status).toBe(404);

    // an adjustment without X-TT-Actor: the role is the actor; a repeat is the first entry
    const adj = await admin<LedgerEntryView>('POST', `/admin/accounts/${a.id}/adjustments`, { amount_micros: -2000, reference: 'adj-1', reason: 'duplicate charge in October' });
    expect(adj.status).toBe(201);
    expect(adj.json).toMatchObject({ kind: 'adjustment', amount_micros: -2000, balance_after_micros: before + 3000, actor: 'admin', reason: 'duplicate charge in October' });
    expect((await admin<LedgerEntryView>('POST', `/admin/accounts/${a.id}/adjustments`, { amount_micros: -2000, reference: 'adj-1', reason: 'again' })).json.id).toBe(adj.json.id);

    // a debit one micro beyond what is available: 409, no entry, no change
    const acct = (await admin<AccountView>('GET', `/admin/accounts/${a.id}`)).json;
    const entries = await prisma.ledgerEntry.count({ where: { accountId: a.id } });
    const tooMuch = await admin<{ error: { code: string; type: string } }>('POST', `/admin/accounts/${a.id}/adjustments`, { amount_micros: -(acct.available_micros + 1), reference: 'adj-big', reason: 'too much' });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.json.error).toMatchObject({ code: 'insufficient_balance', type: 'conflict_error' });
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id } })).toBe(entries);
    expect((await admin<AccountView>('GET', `/admin/accounts/${a.id}`)).json.balance_micros).toBe(acct.balance_micros);
    // exactly the available balance may go
    const all = await admin<LedgerEntryView>('POST', `/admin/accounts/${a.id}/adjustments`, { amount_micros: -acct.available_micros, reference: 'adj-all', reason: 'close out' });
    expect(all.status).toBe(201);
    expect(all.json.balance_after_micros).toBe(0);

    // a top-up with a reason says it and its actor
    const topup = await admin<{ reason: string; actor: string; duplicate: boolean }>('POST', `/admin/accounts/${a.id}/topups`, { amount_micros: 10_000, reference: 'inv-9', reason: 'wire 2026-11' }, { 'x-tt-actor': 'ops@example.com' });
    expect(topup.status).toBe(201);
    expect(topup.json).toMatchObject({ reason: 'wire 2026-11', actor: 'ops@example.com', duplicate: false });

    // the statement shows them with reason, actor and reference; the refund names its call
    const st = (await admin<Statement>('GET', `/admin/accounts/${a.id}/statement`)).json;
    const byRef = (ref: string) => st.entries.find((e) => e.reference === ref)!;
    expect(byRef('rf-1')).toMatchObject({ kind: 'refund', amount_micros: 5000, reason: 'outage credit', actor: 'dana@example.com', request_id: requestId, usage: null });
    expect(byRef('adj-1')).toMatchObject({ kind: 'adjustment', amount_micros: -2000, reason: 'duplicate charge in October', actor: 'admin' });
    expect(byRef('inv-9')).toMatchObject({ kind: 'topup', amount_micros: 10_000, reason: 'wire 2026-11', actor: 'ops@example.com' });
    expect(st.entries.find((e) => e.reference === 'adj-big')).toBeUndefined();
    expect(st.balance_micros).toBe(10_000);
    expect(st.entries[st.entries.length - 1].running_balance_micros).toBe(10_000);

    // the audit log has them with the actor
    const audit = await admin<{ data: Array<{ action: string; actor: string | null; details: Record<string, unknown> }> }>('GET', `/admin/audit?target_type=account&target_id=${a.id}`);
    expect(audit.json.data.find((e) => e.action === 'account.refund' && e.details.duplicate === false)).toMatchObject({ actor: 'dana@example.com', details: { reference: 'rf-1', amount_micros: 5000 } });
    expect(audit.json.data.some((e) => e.action === 'account.adjustment')).toBe(true);
  });

  it('50 concurrent top-ups, refunds, adjustments and calls: balance = sum of the ledger, every reference once, reconciliation ties out', async () => {
    const a = await newAccount(g, 200_000);
    const credit = 200_000;
    const ops: Array<() => Promise<{ kind: string; status: number; amount: number; ref?: string }>> = [];
    for (let i = 0; i < 12; i++) {
      ops.push(async () => ({ kind: 'topup', amount: 1000, ref: `ct-${i}`, status: (await admin('POST', `/admin/accounts/${a.id}/topups`, { amount_micros: 1000, reference: `ct-${i}`, reason: 'c' })).status }));
    }
    // five references, each sent twice
    for (let i = 0; i < 10; i++) {
      ops.push(async () => ({ kind: 'refund', amount: 500, ref: `crf-${i % 5}`, status: (await admin('POST', `/admin/accounts/${a.id}/refunds`, { amount_micros: 500, reference: `crf-${i % 5}`, reason: 'c' })).status }));
    }
    // credits and debits, two of them far beyond any balance this account can have
    for (let i = 0; i < 16; i++) {
      const amount = i % 8 === 7 ? -10_000_000 : i % 2 === 0 ? 300 : -700;
      ops.push(async () => ({ kind: 'adjustment', amount, ref: `cadj-${i}`, status: (await admin('POST', `/admin/accounts/${a.id}/adjustments`, { amount_micros: amount, reference: `cadj-${i}`, reason: 'c' })).status }));
    }
    for (let i = 0; i < 12; i++) {
      ops.push(async () => {
        await chat(a.key, 'gpt-4o-mini', 3 + i);
        return { kind: 'call', amount: 0, status: 200 };
      });
    }
    expect(ops.length).toBe(50);
    // interleaved
    const shuffled = ops.map((op, i) => ({ op, k: (i * 7919) % 50 })).sort((x, y) => x.k - y.k).map((x) => x.op);
    const results = await Promise.all(shuffled.map((op) => op()));

    const refunds = results.filter((r) => r.kind === 'refund');
    expect(refunds.filter((r) => r.status === 201).length).toBe(5);
    expect(refunds.filter((r) => r.status === 200).length).toBe(5);
    const adjustments = results.filter((r) => r.kind === 'adjustment');
    expect(adjustments.filter((r) => r.status === 409).map((r) => r.amount)).toEqual([-10_000_000, -10_000_000]);
    expect(adjustments.filter((r) => r.status !== 409).every((r) => r.status === 201)).toBe(true);
    expect(results.filter((r) => r.kind === 'topup').every((r) => r.status === 201)).toBe(true);

    const settled = await settledAccount(g, a.id);
    expect(settled.held_micros).toBe(0);
    const charges = Number((await prisma.ledgerEntry.aggregate({ where: { accountId: a.id, kind: 'charge' }, _sum: { amountMicros: true } }))._sum.amountMicros ?? 0n);
    expect(charges).toBeLessThan(0);
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id, kind: 'charge' } })).toBe(12);
    const adjusted = adjustments.filter((r) => r.status === 201).reduce((n, r) => n + r.amount, 0);
    expect(settled.balance_micros).toBe(credit + 12 * 1000 + 5 * 500 + adjusted + charges);
    expect(settled.balance_micros).toBe(await ledgerSum(a.id));
    expectInvariants(await books(prisma, a.id));
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id, kind: 'refund' } })).toBe(5);
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id, kind: 'adjustment' } })).toBe(14);

    const rec = (await admin<Reconciliation>('GET', `/admin/reconciliation?account_id=${a.id}`)).json;
    expect(rec.ties_out).toBe(true);
    const row = rec.accounts[0];
    expect(row).toMatchObject({ account_id: a.id, topups_micros: credit + 12_000, adjustments_micros: 2500 + adjusted, charges_micros: -charges, closing_balance_micros: settled.balance_micros, ties_out: true });
    expect(row.opening_balance_micros + row.topups_micros + row.adjustments_micros - row.charges_micros).toBe(row.closing_balance_micros);
    const csv = await admin('GET', `/admin/reconciliation?account_id=${a.id}&format=csv`);
    expect(csv.contentType).toContain('text/csv');
    expect(parseCsv(csv.text)[0]).toMatchObject({ account_id: a.id, adjustments_micros: String(2500 + adjusted), ties_out: 'true' });

    // the statement's running balance ends at the balance, entry by entry opening + amounts so far
    const st = (await admin<Statement>('GET', `/admin/accounts/${a.id}/statement`)).json;
    let running = st.opening_balance_micros;
    for (const e of st.entries) {
      running += e.amount_micros;
      expect(e.running_balance_micros).toBe(running);
    }
    expect(st.closing_balance_micros).toBe(settled.balance_micros);
    expect(st.balance_micros).toBe(settled.balance_micros);
  }, 60_000);

  it('usage per key, model and day (JSON and CSV) equals the sums of the usage records', async () => {
    await mockModel('cm-usage', { input_per_mtok_micros: 700_000, output_per_mtok_micros: 1_300_000 });
    const a = await newAccount(g, 5_000_000);
    const k2 = await admin<KeyView & { key: string }>('POST', `/admin/accounts/${a.id}/keys`, { name: 'second' });
    for (let i = 0; i < 3; i++) await chat(a.key, 'gpt-4o-mini', 4 + i);
    for (let i = 0; i < 2; i++) await chat(a.key, 'cm-usage', 10 + i);
    for (let i = 0; i < 4; i++) await chat(k2.json.key, 'cm-usage', 2 + i);
    await settledAccount(g, a.id);

    const expected = await prisma.$queryRaw<Array<{ key_id: string; model: string; day: string; requests: bigint; input_tokens: bigint; cached_input_tokens: bigint; output_tokens: bigint; reasoning_tokens: bigint; cost_micros: bigint }>>`
      SELECT key_id, model, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS requests, SUM(input_tokens)::bigint AS input_tokens,
             SUM(cached_input_tokens)::bigint AS cached_input_tokens, SUM(output_tokens)::bigint AS output_tokens, SUM(reasoning_tokens)::bigint AS reasoning_tokens,
             SUM(cost_micros)::bigint AS cost_micros
        FROM usage_records WHERE account_id = ${a.id} GROUP BY 1, 2, 3`;
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const want = expected
      .map((r) => ({ key_id: r.key_id, model: r.model, day: r.day, requests: Number(r.requests), input_tokens: Number(r.input_tokens), cached_input_tokens: Number(r.cached_input_tokens), output_tokens: Number(r.output_tokens), reasoning_tokens: Number(r.reasoning_tokens), cost_micros: Number(r.cost_micros) }))
      .sort((x, y) => `${x.key_id}${x.model}${x.day}`.localeCompare(`${y.key_id}${y.model}${y.day}`));
    const sortRows = (rows: UsageGroupRow[]) => [...rows].sort((x, y) => `${x.key_id}${x.model}${x.day}`.localeCompare(`${y.key_id}${y.model}${y.day}`));

    const json = await admin<UsageGrouped>('GET', `/admin/usage?group_by=key,model,day&account_id=${a.id}`);
    expect(json.status).toBe(200);
    expect(json.json.group_by).toEqual(['key', 'model', 'day']);
    expect(sortRows(json.json.data)).toEqual(want);
    expect(Object.keys(json.json.data[0])).toEqual(['key_id', 'model', 'day', 'requests', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens', 'cost_micros']);
    const sum = (k: keyof (typeof want)[number]) => want.reduce((n, r) => n + Number(r[k]), 0);
    expect(json.json.total).toEqual({ requests: 9, input_tokens: sum('input_tokens'), cached_input_tokens: sum('cached_input_tokens'), output_tokens: sum('output_tokens'), reasoning_tokens: sum('reasoning_tokens'), cost_micros: sum('cost_micros') });
    // the ledger's charges are the same money
    const charged = -Number((await prisma.ledgerEntry.aggregate({ where: { accountId: a.id, kind: 'charge' }, _sum: { amountMicros: true } }))._sum.amountMicros ?? 0n);
    expect(json.json.total.cost_micros).toBe(charged);

    for (const csv of [await admin('GET', `/admin/usage?group_by=key,model,day&account_id=${a.id}&format=csv`), await admin('GET', `/admin/usage?group_by=key,model,day&account_id=${a.id}`, undefined, { accept: 'text/csv' })]) {
      expect(csv.status).toBe(200);
      expect(csv.contentType).toContain('text/csv');
      expect(csv.text.split('\n')[0]).toBe('key_id,model,day,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_micros');
      const rows = parseCsv(csv.text).map((r) => ({ ...r, requests: Number(r.requests), input_tokens: Number(r.input_tokens), cached_input_tokens: Number(r.cached_input_tokens), output_tokens: Number(r.output_tokens), reasoning_tokens: Number(r.reasoning_tokens), cost_micros: Number(r.cost_micros) }));
      expect(sortRows(rows as unknown as UsageGroupRow[])).toEqual(want);
    }

    // the default keeps today's rows: per account and model
    const byDefault = await admin<UsageGrouped>('GET', `/admin/usage?account_id=${a.id}`);
    expect(byDefault.json.group_by).toEqual(['account', 'model']);
    expect(byDefault.json.data.find((r) => r.model === 'cm-usage')).toMatchObject({ account_id: a.id, model: 'cm-usage', requests: 6 });
    expect((await admin('GET', '/admin/usage?group_by=model,color')).status).toBe(400);
    expect((await admin('GET', '/admin/usage?group_by=model,model')).status).toBe(400);
  });

  it("a statement's charges carry the unit prices they were charged at, across a price change; the price history lists both with the actor", async () => {
    const created = await mockModel('cm-price', { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 }, { 'x-tt-actor': 'creator@example.com' });
    expect(created.price_id).toEqual(expect.any(Number));
    const a = await newAccount(g, 1_000_000);
    const first = await chat(a.key, 'cm-price', 20);
    await settledAccount(g, a.id);
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));

    const patched = await admin<ModelView>('PATCH', '/admin/models/cm-price', { pricing: { output_per_mtok_micros: 3_000_000 } }, { 'x-tt-actor': 'pricer@example.com' });
    expect(patched.status).toBe(200);
    expect(patched.json.price_id).toBeGreaterThan(created.price_id!);
    // a change that is not a price writes no history
    expect((await admin('PATCH', '/admin/models/cm-price', { aliases: ['cm-price-alias'] })).status).toBe(200);
    expect((await admin<ModelView>('GET', '/admin/models/cm-price')).json.price_id).toBe(patched.json.price_id);
    // ingress drops the model from its cache on the change message
    await new Promise((r) => setTimeout(r, 500));
    const second = await chat(a.key, 'cm-price', 20);
    const account = await settledAccount(g, a.id);

    const prices = await admin<{ data: ModelPriceView[] }>('GET', '/admin/models/cm-price/prices');
    expect(prices.status).toBe(200);
    expect(prices.json.data).toEqual([
      { id: patched.json.price_id, model_id: 'cm-price', pricing: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 3_000_000 }, changed_at: expect.any(String), actor: 'pricer@example.com' },
      { id: created.price_id, model_id: 'cm-price', pricing: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 }, changed_at: expect.any(String), actor: 'creator@example.com' },
    ]);

    const st = await admin<Statement>('GET', `/admin/accounts/${a.id}/statement`);
    expect(st.status).toBe(200);
    expect(st.json).toMatchObject({ account_id: a.id, opening_balance_micros: 0, balance_micros: account.balance_micros, closing_balance_micros: account.balance_micros });
    const last = st.json.entries[st.json.entries.length - 1];
    expect(last.running_balance_micros).toBe(account.balance_micros);
    expect(st.json.entries.map((e) => e.kind)).toEqual(['topup', 'charge', 'charge']);
    const [c1, c2] = st.json.entries.filter((e) => e.kind === 'charge');
    expect(c1).toMatchObject({ request_id: first, model: 'cm-price', hold_id: expect.any(String), usage: { price_id: created.price_id, unit_prices: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 } } });
    expect(c2).toMatchObject({ request_id: second, model: 'cm-price', usage: { price_id: patched.json.price_id, unit_prices: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 3_000_000 } } });
    // each charge is its usage at its own unit prices
    for (const c of [c1, c2]) {
      const u = c.usage!;
      expect(u.output_tokens).toBe(20);
      expect(-c.amount_micros).toBe(Math.ceil((u.input_tokens * u.unit_prices.input_per_mtok_micros! + u.output_tokens * u.unit_prices.output_per_mtok_micros!) / 1_000_000));
    }
    expect(c2.amount_micros).toBeLessThan(c1.amount_micros);
    // the usage records keep the price ids
    const records = await prisma.usageRecord.findMany({ where: { accountId: a.id }, orderBy: { id: 'asc' } });
    expect(records.map((r) => Number(r.priceId))).toEqual([created.price_id, patched.json.price_id]);

    // a period from between the calls: opening = the balance after the first call, one entry
    const later = (await admin<Statement>('GET', `/admin/accounts/${a.id}/statement?from=${encodeURIComponent(between)}`)).json;
    expect(later.opening_balance_micros).toBe(c1.running_balance_micros);
    expect(later.entries.map((e) => e.id)).toEqual([c2.id]);
    expect(later.closing_balance_micros).toBe(account.balance_micros);

    // CSV: one line per entry, the last running balance is the balance
    const csv = await admin('GET', `/admin/accounts/${a.id}/statement?format=csv`);
    expect(csv.contentType).toContain('text/csv');
    const lines = csv.text.trimEnd().split('\n');
    expect(lines[0]).toBe('id,created_at,kind,amount_micros,running_balance_micros,reference,reason,actor,hold_id,request_id,model,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cache_write_tokens,cache_write_1h_tokens,web_searches,price_id,unit_prices');
    expect(lines.length).toBe(4);
    expect(lines[3].split(',')[4]).toBe(String(account.balance_micros));
    expect(lines[3]).toContain(`"{""input_per_mtok_micros"":1000000,""output_per_mtok_micros"":3000000}"`);

    expect((await admin('GET', '/admin/accounts/acct_nope/statement')).status).toBe(404);
    expect((await admin('GET', '/admin/models/nope/prices')).status).toBe(404);
  });

  it('accounts and keys lists (revoked keys included); the finance token reads the new GETs and may not refund or adjust', async () => {
    const a = await newAccount(g, 50_000);
    const revoked = await admin<KeyView>('POST', `/admin/accounts/${a.id}/keys`, { name: 'old' });
    expect((await admin('DELETE', `/admin/keys/${revoked.json.id}`)).status).toBe(200);

    const keys = await finance<{ data: KeyView[] }>('GET', `/admin/accounts/${a.id}/keys`);
    expect(keys.status).toBe(200);
    expect(keys.json.data.map((k) => k.id).sort()).toEqual([a.keyId, revoked.json.id].sort());
    expect(keys.json.data.find((k) => k.id === revoked.json.id)!.revoked_at).toEqual(expect.any(String));
    expect(keys.json.data.find((k) => k.id === a.keyId)!.revoked_at).toBeNull();
    expect(JSON.stringify(keys.json)).not.toContain(a.key);
    expect((await finance('GET', '/admin/accounts/acct_nope/keys')).status).toBe(404);

    const accounts = await finance<{ data: AccountView[] }>('GET', '/admin/accounts?limit=1000');
    expect(accounts.status).toBe(200);
    expect(accounts.json.data.find((x) => x.id === a.id)).toMatchObject({ id: a.id, balance_micros: 50_000, available_micros: 50_000 });
    expect((await finance<{ data: AccountView[] }>('GET', '/admin/accounts?limit=1')).json.data.length).toBe(1);
    expect((await finance('GET', '/admin/accounts?limit=0')).status).toBe(400);

    expect((await finance('GET', `/admin/accounts/${a.id}/statement`)).status).toBe(200);
    const csv = await finance('GET', `/admin/accounts/${a.id}/statement`, undefined, { accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.contentType).toContain('text/csv');
    expect((await finance('GET', '/admin/usage?group_by=account,key,model,day&format=csv')).status).toBe(200);
    expect((await finance('GET', '/admin/models/gpt-4o-mini/prices')).status).toBe(200);

    const entries = await prisma.ledgerEntry.count({ where: { accountId: a.id } });
    for (const r of [
      await finance<{ error: { code: string; message: string } }>('POST', `/admin/accounts/${a.id}/refunds`, { amount_micros: 100, reference: 'f-1', reason: 'x' }),
      await finance<{ error: { code: string; message: string } }>('POST', `/admin/accounts/${a.id}/adjustments`, { amount_micros: -100, reference: 'f-2', reason: 'x' }),
    ]) {
      expect(r.status).toBe(403);
      expect(r.json.error.message).toContain('finance');
    }
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id } })).toBe(entries);
  });
});
