import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { clearMock, mockRequests, registerStyleModels } from './support/fixtures';
import { newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';
import { testPg } from './support/db';

// Pass-through framing and upstream refusals as each style's clients expect them (issue 10): an upstream 429
// on every channel is a 429 in the client's own shape with the upstream's Retry-After, and costs nothing; a
// Gemini client that streams without `?alt=sse` gets one JSON array from a Gemini channel too.

const LIMITED = 'Slow down [[mock:status=429]] [[mock:retry_after=7]]';

describe('upstream refusals and pass-through framing', () => {
  let g: StartedGateway;
  let key: string;
  let accountId: string;
  const pg = testPg(2);

  beforeAll(async () => {
    g = await startGateway();
    await registerStyleModels(g);
    const a = await newAccount(g, 10_000_000);
    key = a.key;
    accountId = a.id;
  }, 120_000);

  afterAll(async () => {
    await pg.end();
    await g?.stop();
  }, 30_000);

  const usageCount = async () => Number((await pg.query<{ n: string }>('SELECT count(*) AS n FROM usage_records WHERE account_id = $1', [accountId])).rows[0].n);

  const requests: Record<string, (model: string) => { url: string; headers: Record<string, string>; body: unknown }> = {
    openai: (model) => ({ url: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, body: { model, messages: [{ role: 'user', content: LIMITED }] } }),
    responses: (model) => ({ url: '/v1/responses', headers: { authorization: `Bearer ${key}` }, body: { model, input: LIMITED } }),
    anthropic: (model) => ({ url: '/v1/messages', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body: { model, max_tokens: 50, messages: [{ role: 'user', content: LIMITED }] } }),
    gemini: (model) => ({ url: `/v1beta/models/${model}:generateContent`, headers: { 'x-goog-api-key': key }, body: { contents: [{ role: 'user', parts: [{ text: LIMITED }] }] } }),
  };
  const cases: Array<[string, string]> = [];
  for (const style of Object.keys(requests)) for (const model of ['gpt-x', 'claude-x', 'gemini-x']) cases.push([style, model]);

  it.each(cases)('%s client, %s: an upstream 429 is a 429 in the client style with Retry-After, and nothing is charged', async (style, model) => {
    const before = await settledAccount(g, accountId);
    const records = await usageCount();
    const r = requests[style](model);
    const res = await fetch(`${g.base}${r.url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...r.headers }, body: JSON.stringify(r.body) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    const body = (await res.json()) as Record<string, any>;
    if (style === 'anthropic') expect(body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    else if (style === 'gemini') expect(body.error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
    else expect(body.error.type).toBeDefined();
    const after = await settledAccount(g, accountId);
    expect(after.balance_micros).toBe(before.balance_micros);
    expect(after.held_micros).toBe(0);
    expect(await usageCount()).toBe(records);
  });

  it('the official SDKs raise their typed rate-limit errors', async () => {
    const openai = new OpenAI({ apiKey: key, baseURL: `${g.base}/v1`, maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: key, baseURL: g.base, maxRetries: 0 });
    const gemini = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: g.base, fetch } as never });
    const e1 = await openai.chat.completions.create({ model: 'claude-x', messages: [{ role: 'user', content: LIMITED }] }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OpenAI.RateLimitError);
    expect((e1 as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('7');
    const e2 = await anthropic.messages.create({ model: 'gemini-x', max_tokens: 20, messages: [{ role: 'user', content: LIMITED }] }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(Anthropic.RateLimitError);
    const e3 = await gemini.models.generateContent({ model: 'gpt-x', contents: LIMITED }).catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(ApiError);
    expect((e3 as ApiError).status).toBe(429);
  });

  describe('an upstream that fails mid-stream (overloaded): the error keeps its type, each style ends its stream its own way, nothing is charged', () => {
    const FAILING = 'Fail me [[mock:reply=one two three four five six]] [[mock:error_after=2]]';
    const streams: Record<string, (model: string) => { url: string; headers: Record<string, string>; body: unknown }> = {
      openai: (model) => ({ url: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, body: { model, stream: true, messages: [{ role: 'user', content: FAILING }] } }),
      responses: (model) => ({ url: '/v1/responses', headers: { authorization: `Bearer ${key}` }, body: { model, stream: true, input: FAILING } }),
      anthropic: (model) => ({ url: '/v1/messages', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body: { model, stream: true, max_tokens: 50, messages: [{ role: 'user', content: FAILING }] } }),
      gemini: (model) => ({ url: `/v1beta/models/${model}:streamGenerateContent?alt=sse`, headers: { 'x-goog-api-key': key }, body: { contents: [{ role: 'user', parts: [{ text: FAILING }] }] } }),
    };
    const failing: Array<[string, string]> = [];
    for (const style of Object.keys(streams)) for (const model of ['gpt-x', 'claude-x', 'gemini-x']) failing.push([style, model]);

    it.each(failing)('%s client, %s', async (style, model) => {
      const before = await settledAccount(g, accountId);
      const records = await usageCount();
      const r = streams[style](model);
      const res = await fetch(`${g.base}${r.url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...r.headers }, body: JSON.stringify(r.body) });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('one '); // what came before the error reached the client
      const overloaded = /overloaded/i;
      switch (style) {
        case 'anthropic':
          expect(text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error"/);
          expect(text).not.toContain('message_stop');
          break;
        case 'openai': {
          const datas = text.split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice(6));
          expect(datas).not.toContain('[DONE]');
          expect(JSON.parse(datas.at(-1)!).error.message).toMatch(overloaded);
          break;
        }
        case 'responses':
          expect(text).toMatch(/event: response\.failed/);
          expect(text).not.toMatch(/event: response\.completed/);
          break;
        case 'gemini': {
          const last = text.split('\r\n\r\n').filter((f) => f.startsWith('data: ')).at(-1)!;
          expect(JSON.parse(last.slice(6)).error).toMatchObject({ code: 503, status: 'UNAVAILABLE' });
          break;
        }
      }
      const after = await settledAccount(g, accountId);
      expect(after.balance_micros).toBe(before.balance_micros);
      expect(after.held_micros).toBe(0);
      expect(await usageCount()).toBe(records);
    });

    it('the Anthropic SDK raises the overloaded error, translated from an OpenAI upstream too', async () => {
      const anthropic = new Anthropic({ apiKey: key, baseURL: g.base, maxRetries: 0 });
      for (const model of ['claude-x', 'gpt-x']) {
        const err = await anthropic.messages.stream({ model, max_tokens: 50, messages: [{ role: 'user', content: FAILING }] }).finalMessage().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Anthropic.APIError);
        expect(JSON.stringify((err as InstanceType<typeof Anthropic.APIError>).error)).toContain('overloaded_error');
      }
    });
  });

  it('a Gemini client streaming without ?alt=sse from a Gemini channel gets one JSON array', async () => {
    await clearMock(g);
    const res = await fetch(`${g.base}/v1beta/models/gemini-x:streamGenerateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': key },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Stream me as an array' }] }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    const chunks = JSON.parse(text) as Array<{ candidates: Array<{ content: { parts: Array<{ text?: string }> }; finishReason?: string }>; usageMetadata?: { candidatesTokenCount?: number } }>;
    expect(Array.isArray(chunks)).toBe(true);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((c) => c.candidates[0].content.parts.map((p) => p.text ?? '').join('')).join('')).toBe('This is a deterministic mock reply to: Stream me as an array');
    expect(chunks.at(-1)!.candidates[0].finishReason).toBe('STOP');
    // pass-through: the Gemini channel was called in its own format
    const [upstream] = await mockRequests(g);
    expect(upstream.provider).toBe('gemini');
    expect((await settledAccount(g, accountId)).held_micros).toBe(0);
  });

  it('the same client with ?alt=sse still gets server-sent events', async () => {
    const res = await fetch(`${g.base}/v1beta/models/gemini-x:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': key },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Stream me as events' }] }] }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\r\n\r\n').filter((e) => e.startsWith('data: '));
    expect(events.length).toBeGreaterThan(1);
  });
});
