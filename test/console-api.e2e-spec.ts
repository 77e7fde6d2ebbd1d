import { testPrisma } from './support/db';
import { adminCall, newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// The API the console stands on, against the whole system: the request log (every call, whatever its
// outcome), the client routes under /v1/account scoped to the calling key's account on the server, the
// console's admin additions, and the static console itself.
interface LogEntry {
  request_id: string;
  account_id: string;
  key_id: string | null;
  model: string | null;
  status: number;
  error_code: string | null;
  latency_ms: number;
  stream: boolean;
  cache: string | null;
  channel_id: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_micros: number;
}

describe('the console API', () => {
  let g: StartedGateway;
  const prisma = testPrisma(2);

  beforeAll(async () => {
    g = await startGateway();
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await prisma.$disconnect();
  }, 30_000);

  const get = (key: string, route: string, headers: Record<string, string> = {}) => fetch(`${g.base}${route}`, { headers: { authorization: `Bearer ${key}`, ...headers } });
  const send = (key: string, method: string, route: string, body?: unknown) =>
    fetch(`${g.base}${route}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  async function chat(key: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    const r = await fetch(`${g.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello console' }], ...body }),
    });
    await r.text();
    return { status: r.status, requestId: r.headers.get('x-tt-request-id')!, cache: r.headers.get('x-tt-cache-status') };
  }
  /** The log entry of a call once ingress's batch reached Postgres (it writes every 250 ms). */
  async function logged(key: string, requestId: string): Promise<LogEntry> {
    const until = Date.now() + 10_000;
    for (;;) {
      const r = await get(key, `/v1/account/requests/${requestId}`);
      if (r.status === 200) return (await r.json()) as LogEntry;
      if (Date.now() > until) throw new Error(`${requestId} not in the request log: ${r.status} ${await r.text()}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  it('logs each call with its status, tokens, cost, latency and cache status, and finds it by request id', async () => {
    const a = await newAccount(g, 10_000_000, { cache_ttl_s: 60 });
    const ok = await chat(a.key);
    expect(ok.status).toBe(200);
    const e = await logged(a.key, ok.requestId);
    // the usage record comes with the settle, which lands after the response (up to OUTBOX_LINGER_MS later)
    let usage = await prisma.usageRecord.findUnique({ where: { requestId: ok.requestId } });
    for (let i = 0; i < 300 && !usage; i++) {
      await new Promise((r) => setTimeout(r, 25));
      usage = await prisma.usageRecord.findUnique({ where: { requestId: ok.requestId } });
    }
    expect(usage).not.toBeNull();
    expect(e).toMatchObject({ request_id: ok.requestId, account_id: a.id, key_id: a.keyId, model: 'gpt-4o-mini', status: 200, error_code: null, stream: false });
    expect(e.input_tokens).toBe(usage!.inputTokens);
    expect(e.output_tokens).toBe(usage!.outputTokens);
    expect(e.cost_micros).toBe(Number(usage!.costMicros));
    expect(e.cost_micros).toBeGreaterThan(0);
    expect(e.channel_id).toBe(usage!.channelId);
    expect(e.latency_ms).toBeGreaterThanOrEqual(0);
    // the lookup carries the usage record, with the unit prices the call was charged at
    const model = await adminCall<{ pricing: Record<string, number>; price_id: number }>(g, 'GET', '/admin/models/gpt-4o-mini');
    const detail = e as LogEntry & { usage: { cost_micros: number; input_tokens: number; price_id: number; unit_prices: Record<string, number> } };
    expect(detail.usage).toMatchObject({ cost_micros: Number(usage!.costMicros), input_tokens: usage!.inputTokens, price_id: model.json.price_id });
    expect(detail.usage.unit_prices).toEqual(model.json.pricing);

    // the same body again, cache on: a hit, answered without the upstream and logged as such
    const first = await chat(a.key, { messages: [{ role: 'user', content: 'cache me' }] }, { 'X-TT-Cache': 'on' });
    const hit = await chat(a.key, { messages: [{ role: 'user', content: 'cache me' }] }, { 'X-TT-Cache': 'on' });
    expect([first.cache, hit.cache]).toEqual(['miss', 'hit']);
    expect((await logged(a.key, first.requestId)).cache).toBe('miss');
    const hitEntry = await logged(a.key, hit.requestId);
    expect(hitEntry).toMatchObject({ cache: 'hit', status: 200 });

    // a refused call is logged too, with its error code; a stream is marked as one
    const bad = await chat(a.key, { model: 'no-such-model' });
    expect(bad.status).toBe(404);
    expect(await logged(a.key, bad.requestId)).toMatchObject({ status: 404, error_code: 'model_not_found' });
    const streamed = await chat(a.key, { stream: true });
    expect((await logged(a.key, streamed.requestId)).stream).toBe(true);

    // filters and paging
    const errors = (await (await get(a.key, '/v1/account/requests?status=error')).json()) as { data: LogEntry[] };
    expect(errors.data.map((x) => x.request_id)).toEqual([bad.requestId]);
    const page1 = (await (await get(a.key, '/v1/account/requests?limit=2')).json()) as { data: LogEntry[]; next_before: string };
    expect(page1.data).toHaveLength(2);
    const page2 = (await (await get(a.key, `/v1/account/requests?limit=50&before=${encodeURIComponent(page1.next_before)}`)).json()) as { data: LogEntry[] };
    const all = [...page1.data, ...page2.data].map((x) => x.request_id);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual(expect.arrayContaining([ok.requestId, first.requestId, hit.requestId, bad.requestId, streamed.requestId]));

    // the admin API finds the same entry across accounts; the finance token may read it too
    const viaAdmin = await adminCall<LogEntry>(g, 'GET', `/admin/requests/${ok.requestId}`);
    expect(viaAdmin.status).toBe(200);
    expect(viaAdmin.json.account_id).toBe(a.id);
    expect((await get(g.financeToken, `/admin/requests?request_id=${ok.requestId}`)).status).toBe(200);
    expect((await get(g.adminToken, '/v1/account/requests/nope')).status).toBe(401);
  }, 60_000);

  it("refuses a client key another account's data at the API, not only in the page", async () => {
    const a = await newAccount(g, 10_000_000);
    const b = await newAccount(g, 10_000_000);
    const call = await chat(a.key);
    await logged(a.key, call.requestId);

    // B cannot read A's request, key, or usage, nor revoke A's key: 404 as if they did not exist
    const peek = await get(b.key, `/v1/account/requests/${call.requestId}`);
    expect(peek.status).toBe(404);
    expect(((await peek.json()) as { error: { message: string } }).error.message).not.toContain(a.id);
    expect((await get(b.key, `/v1/account/keys/${a.keyId}`)).status).toBe(404);
    expect((await send(b.key, 'DELETE', `/v1/account/keys/${a.keyId}`)).status).toBe(404);
    expect((await chat(a.key)).status).toBe(200);
    const bLog = (await (await get(b.key, '/v1/account/requests')).json()) as { data: LogEntry[] };
    expect(bLog.data).toEqual([]);
    const bKeys = (await (await get(b.key, '/v1/account/keys')).json()) as { data: Array<{ id: string; account_id: string }> };
    expect(bKeys.data.map((k) => k.account_id)).toEqual([b.id]);
    const bUsage = (await (await get(b.key, '/v1/account/usage?group_by=model')).json()) as { data: unknown[] };
    expect(bUsage.data).toEqual([]);
    // account_id in a query is not a way around the scope
    const forged = (await (await get(b.key, `/v1/account/requests?account_id=${a.id}`)).json()) as { data: LogEntry[] };
    expect(forged.data).toEqual([]);
    // a client key is no admin or finance token
    for (const route of ['/admin/whoami', '/admin/requests', `/admin/accounts/${a.id}`, '/admin/reconciliation']) {
      expect((await get(a.key, route)).status).toBe(401);
    }
    // A's own view, once its calls' settles have reached the ledger (they land after the responses)
    const settled = await settledAccount(g, a.id);
    const me = (await (await get(a.key, '/v1/account')).json()) as { id: string; key: { id: string }; balance_micros: number };
    expect(me.id).toBe(a.id);
    expect(me.key.id).toBe(a.keyId);
    expect(me.balance_micros).toBe(settled.balance_micros);
  }, 60_000);

  it('lets a key create and revoke keys of its own account, never wider than itself', async () => {
    const a = await newAccount(g, 10_000_000, { models: ['gpt-4o-mini'] });
    const wide = await send(a.key, 'POST', '/v1/account/keys', { name: 'wider', models: ['gpt-4o-mini', 'gpt-4o'] });
    expect(wide.status).toBe(403);
    const made = await send(a.key, 'POST', '/v1/account/keys', { name: 'ci', rpm: 60, budget: { limit_micros: 1_000_000, period: 'day' } });
    expect(made.status).toBe(201);
    const key = (await made.json()) as { id: string; key: string; account_id: string; models: string[]; budget: { limit_micros: number } };
    expect(key.key).toMatch(/^sk-/);
    expect(key).toMatchObject({ account_id: a.id, models: ['gpt-4o-mini'], budget: { limit_micros: 1_000_000 } });
    expect((await chat(key.key)).status).toBe(200);
    const listed = (await (await get(a.key, '/v1/account/keys')).json()) as { data: Array<{ id: string; key?: string }> };
    expect(listed.data.map((k) => k.id)).toEqual(expect.arrayContaining([a.keyId, key.id]));
    expect(listed.data.every((k) => k.key === undefined)).toBe(true);

    const revoked = await send(a.key, 'DELETE', `/v1/account/keys/${key.id}`);
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revoked_at: string | null }).revoked_at).not.toBeNull();
    const until = Date.now() + 3_000;
    let status = 200;
    while (status !== 401 && Date.now() < until) {
      status = (await chat(key.key)).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
  }, 60_000);

  it('tells the console which role a token has, and each channel\'s health', async () => {
    expect(await (await get(g.adminToken, '/admin/whoami')).json()).toEqual({ role: 'admin' });
    expect(await (await get(g.financeToken, '/admin/whoami')).json()).toEqual({ role: 'finance' });
    expect((await get(g.financeToken, '/admin/channels/health')).status).toBe(403);
    const a = await newAccount(g, 10_000_000);
    const call = await chat(a.key);
    const entry = await logged(a.key, call.requestId);
    const health = await adminCall<{ data: Array<{ channel_id: string; state: string; requests_15m: number; errors_15m: number; error_rate_15m: number }> }>(g, 'GET', '/admin/channels/health');
    expect(health.status).toBe(200);
    const ch = health.json.data.find((c) => c.channel_id === entry.channel_id);
    expect(ch).toMatchObject({ state: 'closed', errors_15m: 0, error_rate_15m: 0 });
    expect(ch!.requests_15m).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('serves the console at /console/, deep links included, and nothing outside its build', async () => {
    const index = await fetch(`${g.base}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    expect(html).toContain('<div id="root">');
    const asset = /src="\/console\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${g.base}/console/${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    const deep = await fetch(`${g.base}/console/finance/reconciliation`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    expect((await fetch(`${g.base}/console/assets/missing-abc.js`)).status).toBe(404);
    const escape = await fetch(`${g.base}/console/..%2f..%2fpackage.json`);
    expect(await escape.text()).not.toContain('"name": "gateway"');
    expect((await fetch(`${g.base}/console`, { redirect: 'manual' })).status).toBe(301);
  }, 30_000);
});
