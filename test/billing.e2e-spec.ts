import OpenAI from 'openai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { testPrisma } from './support/db';
import { clearMock, mockRequests } from './support/fixtures';
import { adminCall, newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// Idempotency-Key, X-TT-Dry-Run and the finance reports, through the started system.
describe('billing as finance sees it', () => {
  let g: StartedGateway;
  const prisma = testPrisma(2);

  beforeAll(async () => {
    g = await startGateway();
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await prisma.$disconnect();
  }, 30_000);

  const account = (credit: number) => newAccount(g, credit);

  const post = (key: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${g.base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('50 concurrent requests with one Idempotency-Key: one upstream call, one hold, one charge', async () => {
    const a = await account(1_000_000);
    await clearMock(g);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'only once please [[mock:latency=300]]' }] };
    const responses = await Promise.all(Array.from({ length: 50 }, () => post(a.key, body, { 'idempotency-key': 'order-7' })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    const conflict = responses.find((r) => r.status === 409);
    if (conflict) expect(await conflict.json()).toMatchObject({ error: { code: 'idempotency_in_flight' } });
    expect((await mockRequests(g)).length).toBe(1);
    await settledAccount(g, a.id); // the settle (and a drawn hold's row) lands after the response
    expect(await prisma.hold.count({ where: { accountId: a.id, kind: 'call' } })).toBe(1);
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id, kind: 'charge' } })).toBe(1);

    // once done, the same key replays the first response and charges nothing more
    const first = responses.find((r) => r.status === 200 && r.headers.get('x-tt-idempotent-replay') === null)!;
    const firstBody = await first.text();
    const balance = (await settledAccount(g, a.id)).balance_micros;
    const again = await post(a.key, body, { 'idempotency-key': 'order-7' });
    expect(again.status).toBe(200);
    expect(again.headers.get('x-tt-idempotent-replay')).toBe('true');
    expect(again.headers.get('x-tt-request-id')).toBe(first.headers.get('x-tt-request-id'));
    expect(again.headers.get('x-tt-hold-id')).toBe(first.headers.get('x-tt-hold-id'));
    // the first answer's timing (its upstream's 300 ms) is not this one's: a replay reaches no upstream
    expect(first.headers.get('server-timing')).toMatch(/^upstream;dur=/);
    expect(again.headers.get('server-timing')).toBeNull();
    expect(await again.text()).toBe(firstBody);
    expect((await settledAccount(g, a.id)).balance_micros).toBe(balance);
    expect((await mockRequests(g)).length).toBe(1);
  });

  it('the same key with another body is a 422; keys are scoped to the account', async () => {
    const a = await account(1_000_000);
    const b = await account(1_000_000);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'first body' }] };
    expect((await post(a.key, body, { 'idempotency-key': 'k-1' })).status).toBe(200);
    const err = await a.client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'second body' }] }, { headers: { 'idempotency-key': 'k-1' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    const other = await post(b.key, body, { 'idempotency-key': 'k-1' });
    expect(other.status).toBe(200);
    expect(other.headers.get('x-tt-idempotent-replay')).toBeNull();
  });

  it('a streamed response is replayed as the stream it was', async () => {
    const a = await account(1_000_000);
    const body = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'stream once' }] };
    const first = await post(a.key, body, { 'idempotency-key': 's-1' });
    const firstText = await first.text();
    const replay = await post(a.key, body, { 'idempotency-key': 's-1' });
    expect(replay.headers.get('content-type')).toContain('text/event-stream');
    expect(replay.headers.get('x-tt-idempotent-replay')).toBe('true');
    expect(await replay.text()).toBe(firstText);
    expect(firstText.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await settledAccount(g, a.id); // the settle lands after the response
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id, kind: 'charge' } })).toBe(1);
  });

  it('dry run: no upstream call, balance and ledger unchanged, the estimate returned; a short balance fails as live', async () => {
    const a = await account(1_000_000);
    await clearMock(g);
    const ledgerBefore = await prisma.ledgerEntry.count({ where: { accountId: a.id } });
    const dry = await post(a.key, { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'how much?' }] }, { 'x-tt-dry-run': 'true' });
    expect(dry.status).toBe(200);
    const est = (await dry.json()) as { dry_run: boolean; model: string; estimated_cost_micros: number };
    expect(est).toMatchObject({ dry_run: true, model: 'gpt-4o-mini' });
    expect(est.estimated_cost_micros).toBeGreaterThanOrEqual(Math.ceil((100 * 600_000) / 1e6));
    expect(await mockRequests(g)).toEqual([]);
    expect(await settledAccount(g, a.id)).toMatchObject({ balance_micros: 1_000_000, held_micros: 0 });
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id } })).toBe(ledgerBefore);
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: dry.headers.get('x-tt-hold-id')! } });
    expect(hold.state).toBe('released');

    const poor = await account(3);
    const big = { model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user', content: 'x' }] };
    const live = await post(poor.key, big);
    const dryPoor = await post(poor.key, big, { 'x-tt-dry-run': 'true' });
    expect([live.status, dryPoor.status]).toEqual([402, 402]);
    const [liveErr, dryErr] = [(await live.json()) as { error: { code: string } }, (await dryPoor.json()) as { error: { code: string } }];
    expect(dryErr.error.code).toBe(liveErr.error.code);
    expect(await mockRequests(g)).toEqual([]);
  });

  it('reconciliation ties out, as JSON, as CSV and through the finance CLI', async () => {
    const json = await adminCall<{ ties_out: boolean; accounts: Array<{ account_id: string; opening_balance_micros: number; topups_micros: number; charges_micros: number; closing_balance_micros: number; ties_out: boolean }> }>(g, 'GET', '/admin/reconciliation');
    expect(json.status).toBe(200);
    expect(json.json.accounts.length).toBeGreaterThan(3);
    for (const a of json.json.accounts) {
      expect(a.opening_balance_micros + a.topups_micros - a.charges_micros).toBe(a.closing_balance_micros);
      expect(a.ties_out).toBe(true);
    }
    expect(json.json.ties_out).toBe(true);

    const csv = await fetch(`${g.base}/admin/reconciliation`, { headers: { authorization: `Bearer ${g.adminToken}`, accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('account_id,opening_balance_micros,topups_micros,adjustments_micros,charges_micros,released_holds_micros,open_holds_micros,closing_balance_micros,hold_charges_micros,debt_micros,expired_unsettled_holds,expired_unsettled_micros,ties_out');
    expect(lines[lines.length - 1]).toMatch(/^TOTAL,.*,true$/);

    const cli = path.resolve(__dirname, '../dist/apps/billing/src/cli/finance.cli.js');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'reconciliation'], { env: { ...process.env, GATEWAY_URL: g.base, ADMIN_TOKEN: g.adminToken } });
    expect(stdout).toContain('BOOKS TIE OUT: yes');
    const holds = await promisify(execFile)(process.execPath, [cli, 'holds', '--state', 'released'], { env: { ...process.env, GATEWAY_URL: g.base, ADMIN_TOKEN: g.adminToken } });
    expect(holds.stdout).toContain('released');
    const usage = await promisify(execFile)(process.execPath, [cli, 'usage'], { env: { ...process.env, GATEWAY_URL: g.base, ADMIN_TOKEN: g.adminToken } });
    expect(usage.stdout).toContain('gpt-4o-mini');
  });

  it('a report for a closed period ends at its end', async () => {
    const a = await account(1_000);
    const mid = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await adminCall(g, 'POST', `/admin/accounts/${a.id}/topups`, { amount_micros: 500, reference: 'later' });
    const before = await adminCall<{ accounts: Array<{ closing_balance_micros: number; topups_micros: number; ties_out: boolean }> }>(g, 'GET', `/admin/reconciliation?account_id=${a.id}&to=${encodeURIComponent(mid)}`);
    expect(before.json.accounts[0]).toMatchObject({ closing_balance_micros: 1_000, topups_micros: 1_000, ties_out: true });
    const after = await adminCall<{ accounts: Array<{ opening_balance_micros: number; topups_micros: number; closing_balance_micros: number }> }>(g, 'GET', `/admin/reconciliation?account_id=${a.id}&from=${encodeURIComponent(mid)}`);
    expect(after.json.accounts[0]).toMatchObject({ opening_balance_micros: 1_000, topups_micros: 500, closing_balance_micros: 1_500 });
  });
});
