import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { testPrisma } from './support/db';
import { clearMock, mockRequests, registerStyleModels } from './support/fixtures';
import { newAccount as createAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// The gateway's own response cache (API.md, "The gateway's response cache"), against the whole system and
// the mock upstream: the mock's request log says whether the upstream was called, the ledger and the usage
// records say whether anything was charged.
const ON = { 'X-TT-Cache': 'on' };

interface Account {
  balance_micros: number;
  held_micros: number;
}

interface Raw {
  status: number;
  headers: Headers;
  text: string;
}

describe('the response cache', () => {
  let g: StartedGateway;
  const prisma = testPrisma(2);

  beforeAll(async () => {
    g = await startGateway();
    await registerStyleModels(g);
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await prisma.$disconnect();
  }, 30_000);

  const newAccount = (keyBody: Record<string, unknown> = {}) => createAccount(g, 10_000_000, keyBody);
  const account = (id: string) => settledAccount<Account>(g, id);
  /** The cost on a call's usage record, once the outbox has brought it to billing (up to 15 s). */
  async function costOf(requestId: string): Promise<number> {
    const until = Date.now() + 15_000;
    for (;;) {
      const rec = await prisma.usageRecord.findUnique({ where: { requestId } });
      if (rec) return Number(rec.costMicros);
      if (Date.now() > until) throw new Error(`no usage record for ${requestId}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const upstreamCalls = async () => (await mockRequests(g)).length;

  /** A raw POST, for what the SDKs do not show: the exact bytes of a stream. */
  async function post(path: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<Raw> {
    const r = await fetch(`${g.base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: r.status, headers: r.headers, text: await r.text() };
  }

  it('chat completions: a miss, then a hit that is free, calls no upstream and says what the miss cost', async () => {
    const a = await newAccount();
    await clearMock(g);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Cache me if you can' }] };
    const miss = await a.client.chat.completions.create(body, { headers: ON }).withResponse();
    expect(miss.response.headers.get('x-tt-cache-status')).toBe('miss');
    // the upstream's prompt cache served nothing either
    expect(Number(miss.response.headers.get('x-tt-cache-savings-micros') ?? 0)).toBe(0);
    const missId = miss.response.headers.get('x-tt-request-id')!;
    const afterMiss = await account(a.id);
    const cost = await costOf(missId);
    expect(cost).toBeGreaterThan(0);
    expect(afterMiss.balance_micros).toBe(10_000_000 - cost);

    // user is not part of the match; key order is not either
    const hit = await a.client.chat.completions.create({ messages: body.messages, model: body.model, user: 'someone-else' }, { headers: ON }).withResponse();
    expect(hit.response.status).toBe(200);
    expect(hit.response.headers.get('x-tt-cache-status')).toBe('hit');
    expect(Number(hit.response.headers.get('x-tt-cache-savings-micros'))).toBe(cost);
    const hitId = hit.response.headers.get('x-tt-request-id');
    expect(hitId).toMatch(/^req_/);
    expect(hitId).not.toBe(missId);
    expect(hit.response.headers.get('x-tt-hold-id')).toBeNull();
    expect(hit.response.headers.get('x-ratelimit-limit-requests')).not.toBeNull();
    expect(hit.data).toEqual(miss.data);

    expect(await upstreamCalls()).toBe(1);
    const after = await account(a.id);
    expect(after).toMatchObject({ balance_micros: afterMiss.balance_micros, held_micros: 0 });
    expect(await prisma.usageRecord.count({ where: { accountId: a.id } })).toBe(1);
    expect(await prisma.hold.count({ where: { accountId: a.id, kind: 'call' } })).toBe(1);
    expect(await prisma.usageRecord.findUnique({ where: { requestId: hitId! } })).toBeNull();

    // a dry run is never a hit: it prices the call as usual
    const dry = await post('/v1/chat/completions', a.key, body, { ...ON, 'X-TT-Dry-Run': 'true' });
    expect(dry.status).toBe(200);
    expect(JSON.parse(dry.text)).toMatchObject({ dry_run: true });
    expect(dry.headers.get('x-tt-cache-status')).toBe('bypass');
  });

  it('a stream hit replays the same events byte for byte, with the same framing; a stream and a single body are different entries', async () => {
    const a = await newAccount();
    await clearMock(g);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Stream me something to keep' }], stream: true, stream_options: { include_usage: true } };
    const miss = await post('/v1/chat/completions', a.key, body, ON);
    expect(miss.status).toBe(200);
    expect(miss.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(miss.headers.get('x-tt-cache-status')).toBe('miss');
    expect(miss.text).toContain('data: [DONE]');
    const cost = await costOf(miss.headers.get('x-tt-request-id')!);
    const afterMiss = await account(a.id);

    const hit = await post('/v1/chat/completions', a.key, body, ON);
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-tt-cache-status')).toBe('hit');
    expect(hit.headers.get('content-type')).toBe(miss.headers.get('content-type'));
    expect(Number(hit.headers.get('x-tt-cache-savings-micros'))).toBe(cost);
    expect(hit.headers.get('x-tt-request-id')).toMatch(/^req_/);
    expect(hit.text).toBe(miss.text);
    expect(await upstreamCalls()).toBe(1);
    expect((await account(a.id)).balance_micros).toBe(afterMiss.balance_micros);

    const single = await post('/v1/chat/completions', a.key, { ...body, stream: false, stream_options: undefined }, ON);
    expect(single.headers.get('x-tt-cache-status')).toBe('miss');
    expect(JSON.parse(single.text).object).toBe('chat.completion');
    expect(await upstreamCalls()).toBe(2);
  });

  it('another account never sees an entry: the same request from it is a miss', async () => {
    const a = await newAccount();
    const b = await newAccount();
    await clearMock(g);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Mine, not yours' }] };
    const first = await a.client.chat.completions.create(body, { headers: ON }).withResponse();
    expect(first.response.headers.get('x-tt-cache-status')).toBe('miss');
    const other = await b.client.chat.completions.create(body, { headers: ON }).withResponse();
    expect(other.response.headers.get('x-tt-cache-status')).toBe('miss');
    expect(await upstreamCalls()).toBe(2);
    expect((await account(b.id)).balance_micros).toBe(10_000_000 - (await costOf(other.response.headers.get('x-tt-request-id')!)));
  });

  it('X-TT-Cache: off is a bypass even with an entry there; no header and a key without cache_ttl_s is a bypass too', async () => {
    const a = await newAccount();
    await clearMock(g);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Do not serve me from the cache' }] };
    await a.client.chat.completions.create(body, { headers: ON });
    const off = await a.client.chat.completions.create(body, { headers: { 'X-TT-Cache': 'off' } }).withResponse();
    expect(off.response.headers.get('x-tt-cache-status')).toBe('bypass');
    const plain = await a.client.chat.completions.create(body).withResponse();
    expect(plain.response.headers.get('x-tt-cache-status')).toBe('bypass');
    expect(await upstreamCalls()).toBe(3);
    await account(a.id);
    expect(await prisma.usageRecord.count({ where: { accountId: a.id } })).toBe(3);
    // anything but on or off is a 400 that names the header
    const bad = await post('/v1/chat/completions', a.key, body, { 'X-TT-Cache': 'maybe' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error).toMatchObject({ param: 'X-TT-Cache' });
  });

  it('a key with cache_ttl_s caches without the header; at temperature 0.7 with no seed it is a bypass unless the header asks', async () => {
    const a = await newAccount({ cache_ttl_s: 3600 });
    await clearMock(g);
    const messages = [{ role: 'user' as const, content: 'Key-level caching' }];
    const status = async (extra: Record<string, unknown>, headers: Record<string, string> = {}) =>
      (await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, ...extra }, { headers }).withResponse()).response.headers.get('x-tt-cache-status');

    expect([await status({}), await status({})]).toEqual(['miss', 'hit']);
    expect([await status({ temperature: 0.7 }), await status({ temperature: 0.7 })]).toEqual(['bypass', 'bypass']);
    expect([await status({ temperature: 0.7, seed: 1 }), await status({ temperature: 0.7, seed: 1 })]).toEqual(['miss', 'hit']);
    expect([await status({ temperature: 0.8 }, ON), await status({ temperature: 0.8 }, ON)]).toEqual(['miss', 'hit']);
    expect(await status({}, { 'X-TT-Cache': 'off' })).toBe('bypass');
    // miss, bypass, bypass, miss, miss, bypass
    expect(await upstreamCalls()).toBe(6);
  });

  it('Anthropic /v1/messages: a hit returns the miss message, free', async () => {
    const a = await newAccount();
    const anthropic = new Anthropic({ apiKey: a.key, baseURL: g.base, maxRetries: 0 });
    await clearMock(g);
    const req = { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Claude, once only' }], metadata: { user_id: 'u-1' } };
    const miss = await anthropic.messages.create(req, { headers: ON }).withResponse();
    expect(miss.response.headers.get('x-tt-cache-status')).toBe('miss');
    const cost = await costOf(miss.response.headers.get('x-tt-request-id')!);
    const afterMiss = await account(a.id);
    // metadata is not part of the match
    const hit = await anthropic.messages.create({ ...req, metadata: { user_id: 'u-2' } }, { headers: ON }).withResponse();
    expect(hit.response.headers.get('x-tt-cache-status')).toBe('hit');
    expect(Number(hit.response.headers.get('x-tt-cache-savings-micros'))).toBe(cost);
    expect(hit.data).toEqual(miss.data);
    expect(hit.data.content[0]).toMatchObject({ type: 'text' });
    expect(await upstreamCalls()).toBe(1);
    expect((await account(a.id)).balance_micros).toBe(afterMiss.balance_micros);
  });

  it('Gemini generateContent: a hit returns the miss response, free', async () => {
    const a = await newAccount();
    const gemini = new GoogleGenAI({ apiKey: a.key, httpOptions: { baseUrl: g.base, headers: ON, fetch } as never });
    await clearMock(g);
    const req = { model: 'gemini-x', contents: 'Gemini, once only' };
    const miss = await gemini.models.generateContent(req);
    expect(miss.sdkHttpResponse?.headers?.['x-tt-cache-status']).toBe('miss');
    const cost = await costOf(miss.sdkHttpResponse!.headers!['x-tt-request-id']);
    const afterMiss = await account(a.id);
    const hit = await gemini.models.generateContent(req);
    expect(hit.sdkHttpResponse?.headers?.['x-tt-cache-status']).toBe('hit');
    expect(Number(hit.sdkHttpResponse?.headers?.['x-tt-cache-savings-micros'])).toBe(cost);
    expect(hit.text).toBe(miss.text);
    expect(hit.text).toContain('Gemini, once only');
    expect(hit.usageMetadata).toEqual(miss.usageMetadata);
    expect(await upstreamCalls()).toBe(1);
    expect((await account(a.id)).balance_micros).toBe(afterMiss.balance_micros);
  });
});
