import type { AuditEntry, KeyView, Reconciliation } from '@gateway/contracts';
import { testPrisma } from './support/db';
import { apiCall, type StartedGateway, startGateway } from './support/gateway';

// Issue 11, security: a read-only finance token beside the admin token, and an audit log of admin changes
// (who: the token's role and the X-TT-Actor header; what, on which target, when), with key material redacted.
describe('finance token and admin audit log end to end', () => {
  let g: StartedGateway;
  const prisma = testPrisma(2);

  beforeAll(async () => {
    g = await startGateway();
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await prisma.$disconnect();
  });

  const call = <T = Record<string, unknown>>(token: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) =>
    apiCall<T>(g, token, method, route, body, headers);
  const admin = <T = Record<string, unknown>>(method: string, route: string, body?: unknown, headers?: Record<string, string>) => call<T>(g.adminToken, method, route, body, headers);
  const finance = <T = Record<string, unknown>>(method: string, route: string, body?: unknown) => call<T>(g.financeToken, method, route, body);

  it('npm start generated a finance token and printed it beside the admin token', () => {
    expect(g.financeToken).toMatch(/^fin-/);
    expect(g.financeToken).not.toBe(g.adminToken);
    expect(g.output.some((l) => l.includes('Finance token:') && l.includes(g.financeToken))).toBe(true);
  });

  it('the finance token reads accounts, holds, reconciliation (JSON and CSV), expired holds, usage, keys and models; it changes nothing (403 naming its role)', async () => {
    const acct = await admin<{ id: string }>('POST', '/admin/accounts', { name: 'finance-reads', credit_micros: 5000 });
    expect(acct.status).toBe(201);
    const key = await admin<KeyView & { key: string }>('POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'k' });
    expect(key.status).toBe(201);

    expect((await finance('GET', `/admin/accounts/${acct.json.id}`)).json).toMatchObject({ id: acct.json.id, balance_micros: 5000 });
    const holds = await finance<{ data: unknown[] }>('GET', `/admin/holds?account_id=${acct.json.id}`);
    expect(holds.status).toBe(200);
    expect(Array.isArray(holds.json.data)).toBe(true);
    const rec = await finance<Reconciliation>('GET', `/admin/reconciliation?account_id=${acct.json.id}`);
    expect(rec.status).toBe(200);
    expect(rec.json.ties_out).toBe(true);
    expect(rec.json.accounts.find((a) => a.account_id === acct.json.id)).toMatchObject({ topups_micros: 5000, closing_balance_micros: 5000 });
    const csv = await call(g.financeToken, 'GET', '/admin/reconciliation', undefined, { accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.contentType).toContain('text/csv');
    expect(csv.text.split('\n')[0]).toMatch(/^account_id,opening_balance_micros,/);
    expect((await finance('GET', '/admin/expired-holds')).status).toBe(200);
    expect((await finance('GET', '/admin/usage')).status).toBe(200);
    const k = await finance<KeyView>('GET', `/admin/keys/${key.json.id}`);
    expect(k.status).toBe(200);
    expect(JSON.stringify(k.json)).not.toContain(key.json.key);
    expect((await finance('GET', '/admin/models')).status).toBe(200);

    // every change: 403 in the admin API's (OpenAI) error shape, naming the token's role
    const refusals = [
      await finance('POST', `/admin/accounts/${acct.json.id}/topups`, { amount_micros: 1000, reference: 'finance-try' }),
      await finance('POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'finance-try' }),
      await finance('PATCH', `/admin/keys/${key.json.id}`, { rpm: 5 }),
      await finance('DELETE', `/admin/keys/${key.json.id}`),
      await finance('POST', '/admin/accounts', { name: 'finance-try' }),
      await finance('PATCH', '/admin/models/gpt-4o-mini', { pricing: { input_per_mtok_micros: 1 } }),
      await finance('POST', '/admin/channels', { name: 'x', provider: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key: 'k', models: ['x'] }),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(403);
      expect(r.json).toEqual({ error: { message: expect.stringMatching(/role is finance.*read-only/), type: 'permission_error', param: null, code: 'forbidden' } });
    }
    // nothing changed: no top-up, the key still live and unchanged, no audit entry by the finance token
    expect((await admin('GET', `/admin/accounts/${acct.json.id}`)).json).toMatchObject({ balance_micros: 5000 });
    expect((await admin<KeyView>('GET', `/admin/keys/${key.json.id}`)).json).toMatchObject({ revoked_at: null, rpm: null });
    const rows = await prisma.adminAudit.findMany({ where: { role: 'finance' } });
    expect(rows).toEqual([]);

    // ops routes outside the reports are not the finance token's either; a wrong token is a 401
    expect((await finance('GET', '/admin/channels')).status).toBe(403);
    expect((await call('fin-not-the-token-at-all', 'GET', '/admin/holds')).status).toBe(401);
    expect((await call('', 'GET', '/admin/holds')).status).toBe(401);
  });

  it('admin top-ups, key create / revoke, model and channel changes are in the audit log with role, actor and redacted details; the finance token reads it', async () => {
    const actor = 'Dana Ops <dana@example.com>';
    const as = { 'x-tt-actor': actor };
    const acct = await admin<{ id: string }>('POST', '/admin/accounts', { name: 'audited' }, as);
    const topup = await admin<{ id: string }>('POST', `/admin/accounts/${acct.json.id}/topups`, { amount_micros: 250_000, reference: 'invoice-77' }, as);
    expect(topup.status).toBe(201);
    const key = await admin<KeyView & { key: string }>('POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'audited-key', rpm: 60 }, as);
    expect(key.status).toBe(201);
    expect((await admin('PATCH', `/admin/keys/${key.json.id}`, { rpm: 30 }, as)).status).toBe(200);
    expect((await admin('DELETE', `/admin/keys/${key.json.id}`, undefined, as)).status).toBe(200);
    const before = (await admin<{ pricing: Record<string, number> }>('GET', '/admin/models/gpt-4o-mini')).json.pricing;
    // no actor header: the entry has the role and a null actor
    expect((await admin('PATCH', '/admin/models/gpt-4o-mini', { pricing: { output_per_mtok_micros: before.output_per_mtok_micros + 1 } })).status).toBe(200);
    const channel = await admin<{ id: string }>('POST', '/admin/channels', { name: 'audited', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'upstream-secret-123', models: ['audited-model'] }, as);
    expect(channel.status).toBe(201);
    expect((await admin('PATCH', `/admin/channels/${channel.json.id}`, { api_key: 'upstream-secret-456', priority: 3 }, as)).status).toBe(200);
    expect((await admin('DELETE', `/admin/channels/${channel.json.id}`, undefined, as)).status).toBe(200);

    const log = async (q: string) => {
      const r = await finance<{ data: AuditEntry[] }>('GET', `/admin/audit?${q}`);
      expect(r.status).toBe(200);
      return r.json.data;
    };
    const onAccount = await log(`target_type=account&target_id=${acct.json.id}`);
    expect(onAccount.map((e) => e.action)).toEqual(['account.topup', 'account.create']); // newest first
    expect(onAccount[0]).toEqual({
      id: expect.any(String),
      role: 'admin',
      actor,
      action: 'account.topup',
      target_type: 'account',
      target_id: acct.json.id,
      details: { topup_id: topup.json.id, amount_micros: 250_000, reference: 'invoice-77', duplicate: false, balance_micros: 250_000 },
      request_id: expect.stringMatching(/^req_/),
      at: expect.any(String),
    });
    expect(Math.abs(Date.parse(onAccount[0].at) - Date.now())).toBeLessThan(60_000);

    const onKey = await log(`target_type=key&target_id=${key.json.id}`);
    expect(onKey.map((e) => [e.action, e.role, e.actor])).toEqual([
      ['key.revoke', 'admin', actor],
      ['key.update', 'admin', actor],
      ['key.create', 'admin', actor],
    ]);
    expect(onKey[2].details).toMatchObject({ account_id: acct.json.id, name: 'audited-key', rpm: 60 });
    expect(onKey[1].details).toEqual({ rpm: 30 });

    const onModel = await log('target_type=model&target_id=gpt-4o-mini&limit=1');
    expect(onModel).toHaveLength(1);
    expect(onModel[0]).toMatchObject({ action: 'model.update', role: 'admin', actor: null, details: { pricing: { output_per_mtok_micros: before.output_per_mtok_micros + 1 }, previous_pricing: before } });

    const onChannel = await log(`target_type=channel&target_id=${channel.json.id}`);
    expect(onChannel.map((e) => e.action)).toEqual(['channel.delete', 'channel.update', 'channel.create']);
    expect(onChannel[2].details).toMatchObject({ name: 'audited', api_key: '[redacted]' });
    expect(onChannel[1].details).toEqual({ api_key: '[redacted]', priority: 3 });

    // no key material anywhere in the log, neither in the API's answer nor in the table
    const all = JSON.stringify(await log('limit=1000'));
    const stored = JSON.stringify(await prisma.adminAudit.findMany({ select: { details: true } }));
    for (const text of [all, stored]) {
      expect(text).not.toContain(key.json.key);
      expect(text).not.toContain('upstream-secret');
      expect(text).not.toContain(g.adminToken);
    }

    // the actor is stored as given up to 200 characters; a longer one is refused before anything changes
    const long = await admin('POST', `/admin/accounts/${acct.json.id}/topups`, { amount_micros: 1, reference: 'long-actor' }, { 'x-tt-actor': 'x'.repeat(201) });
    expect(long.status).toBe(400);
    expect((await admin('GET', `/admin/accounts/${acct.json.id}`)).json).toMatchObject({ balance_micros: 250_000 });
    // bad query: a 400 naming the field
    expect((await finance('GET', '/admin/audit?target_type=planet')).status).toBe(400);
  });
});
