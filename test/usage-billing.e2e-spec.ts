import OpenAI from 'openai';
import { clearMock, mockRequests, PRICE, registerStyleModels, type Recorded } from './support/fixtures';
import { adminCall, newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';
import { testPg } from './support/db';

// Every token paid for (issue 9): the upstream is always held to the output bound the hold covers, in
// pass-through as in translation; reasoning and cache tokens are billed in every direction, a client that
// hangs up pays what the upstream billed; features priced beyond tokens are refused unless the model
// prices them. The mock upstream records each request it got, and reports the usage its directives ask for.

type Style = 'openai' | 'responses' | 'anthropic' | 'gemini';
const MODELS = { openai: 'gpt-x', anthropic: 'claude-x', gemini: 'gemini-x' } as const;
const MODEL_LIMIT = 1000; // registerStyleModels: limits.max_output_tokens

interface UsageRow {
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  cache_write_1h_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_micros: string;
}

describe('every token paid for', () => {
  let g: StartedGateway;
  let key: string;
  let accountId: string;
  const pg = testPg(4);

  beforeAll(async () => {
    g = await startGateway();
    await registerStyleModels(g);
    const a = await newAccount(g, 100_000_000);
    key = a.key;
    accountId = a.id;
  }, 120_000);

  afterAll(async () => {
    await pg.end();
    await g?.stop();
  }, 30_000);

  /** One call in a style, raw HTTP as the SDKs send it; `bound` in the style's own field when given. */
  async function call(style: Style, model: string, text: string, opts: { bound?: number; stream?: boolean; extra?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    const { bound, stream = false, extra = {} } = opts;
    let url: string;
    let body: Record<string, unknown>;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
    switch (style) {
      case 'openai':
        url = '/v1/chat/completions';
        body = { model, messages: [{ role: 'user', content: text }], stream, ...(bound ? { max_completion_tokens: bound } : {}) };
        headers.authorization = `Bearer ${key}`;
        break;
      case 'responses':
        url = '/v1/responses';
        body = { model, input: text, stream, ...(bound ? { max_output_tokens: bound } : {}) };
        headers.authorization = `Bearer ${key}`;
        break;
      case 'anthropic':
        url = '/v1/messages';
        body = { model, max_tokens: bound ?? 4096, messages: [{ role: 'user', content: text }], stream };
        headers['x-api-key'] = key;
        headers['anthropic-version'] = '2023-06-01';
        break;
      case 'gemini':
        url = `/v1beta/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
        body = { contents: [{ role: 'user', parts: [{ text }] }], ...(bound ? { generationConfig: { maxOutputTokens: bound } } : {}) };
        headers['x-goog-api-key'] = key;
        break;
    }
    const res = await fetch(`${g.base}${url}`, { method: 'POST', headers, body: JSON.stringify({ ...body, ...extra }) });
    return res;
  }

  /** The bound the upstream request carried, read from the field its provider reads. */
  function sentBound(r: Recorded): number | undefined {
    const b = r.body as Record<string, unknown> & { generationConfig?: { maxOutputTokens?: number } };
    if (r.provider === 'openai') return (r.path.endsWith('/responses') ? b.max_output_tokens : (b.max_completion_tokens ?? b.max_tokens)) as number | undefined;
    if (r.provider === 'anthropic') return b.max_tokens as number | undefined;
    return b.generationConfig?.maxOutputTokens;
  }

  async function usageOf(requestId: string, timeoutMs = 15_000): Promise<UsageRow> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await pg.query<UsageRow>('SELECT * FROM usage_records WHERE request_id = $1', [requestId]);
      if (rows[0] || Date.now() > until) return rows[0];
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** the call's hold row; a hold drawn from a credit lease has one once its settle (with the split) is applied */
  async function holdOf(holdId: string): Promise<{ amount_micros: number }> {
    for (let i = 0; ; i++) {
      const { rows } = await pg.query<{ amount_micros: string }>('SELECT amount_micros FROM holds WHERE id = $1', [holdId]);
      if (rows.length || i >= 200) return { amount_micros: Number(rows[0].amount_micros) };
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  describe('the hold bounds the call', () => {
    const styles: Style[] = ['openai', 'responses', 'anthropic', 'gemini'];
    const cases: Array<[Style, keyof typeof MODELS, number | undefined]> = [];
    for (const style of styles) {
      for (const upstream of Object.keys(MODELS) as Array<keyof typeof MODELS>) {
        // an Anthropic request always carries max_tokens (the API requires it): its "no bound" case asks
        // for more than the model's limit instead, which is cut to the limit
        cases.push([style, upstream, 50], [style, upstream, style === 'anthropic' ? 5000 : undefined]);
      }
    }
    it.each(cases)('%s client on a %s channel, client bound %s: the upstream gets the bound the hold covers', async (style, upstream, bound) => {
      await clearMock(g);
      const res = await call(style, MODELS[upstream], 'Bound me', { bound });
      expect(res.status).toBe(200);
      const expected = bound !== undefined && bound < MODEL_LIMIT ? bound : MODEL_LIMIT;
      const reqs = (await mockRequests(g)).filter((r) => r.provider === upstream);
      expect(reqs).toHaveLength(1);
      expect(sentBound(reqs[0])).toBe(expected);
      // the hold covers that many output tokens at the output price, and the prompt on top
      const hold = await holdOf(res.headers.get('x-tt-hold-id')!);
      expect(hold.amount_micros).toBeGreaterThanOrEqual((expected * PRICE.output) / 1e6);
      expect(hold.amount_micros).toBeLessThan((expected * PRICE.output) / 1e6 + 1000);
    });

    it('reads the client bound from a body that does not translate (pass-through only), and still bounds the upstream', async () => {
      await clearMock(g);
      // `logit_bias` is not in the internal form: this body can only pass through to an OpenAI channel
      const res = await call('openai', 'gpt-x', 'Untranslatable', { extra: { logit_bias: { '50256': -100 }, max_tokens: 40 } });
      expect(res.status).toBe(200);
      const [r] = await mockRequests(g);
      expect(r.body.max_tokens).toBe(40); // the client's own field, kept
      expect(r.body.logit_bias).toEqual({ '50256': -100 });
      const hold = await holdOf(res.headers.get('x-tt-hold-id')!);
      expect(hold.amount_micros).toBeGreaterThanOrEqual(80);
      expect(hold.amount_micros).toBeLessThan(80 + 1000);
    });

    it('prices a referenced document at the model context window, and refuses it where the model has none', async () => {
      await adminCall(g, 'POST', '/admin/models', { id: 'gemini-ctx', kind: 'chat', pricing: { input_per_mtok_micros: PRICE.input, output_per_mtok_micros: PRICE.output }, limits: { max_output_tokens: 100, context_tokens: 200_000 } });
      await adminCall(g, 'POST', '/admin/channels', { name: 'mock-gemini-ctx', provider: 'gemini', base_url: g.mockBase, api_key: 'k', models: { 'gemini-ctx': 'gemini-2.5-flash' } });
      const fileData = { fileData: { mimeType: 'application/pdf', fileUri: 'https://example.com/report.pdf' } };
      const dry = await fetch(`${g.base}/v1beta/models/gemini-ctx:generateContent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goog-api-key': key, 'x-tt-dry-run': 'true' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Summarise' }, fileData] }] }),
      });
      expect(dry.status).toBe(200);
      // 200k input tokens at $1/M plus 100 output tokens at $2/M
      expect(((await dry.json()) as { estimated_cost_micros: number }).estimated_cost_micros).toBe(200_000 + 200);
      const refused = await fetch(`${g.base}/v1beta/models/gemini-x:generateContent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goog-api-key': key },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Summarise' }, fileData] }] }),
      });
      expect(refused.status).toBe(400);
      const err = (await refused.json()) as { error: { status: string; message: string } };
      expect(err.error.status).toBe('INVALID_ARGUMENT');
      expect(err.error.message).toMatch(/document or file/);
    });
  });

  describe('reasoning tokens are billed in every direction', () => {
    const styles: Style[] = ['openai', 'responses', 'anthropic', 'gemini'];
    const cases: Array<[Style, keyof typeof MODELS]> = [];
    for (const style of styles) for (const upstream of Object.keys(MODELS) as Array<keyof typeof MODELS>) cases.push([style, upstream]);

    it.each(cases)('%s client on a %s channel: 300 reasoning tokens are charged as output', async (style, upstream) => {
      // the same prompt length, so the same prompt tokens and visible answer; only the reasoning differs
      const plain = await call(style, MODELS[upstream], 'Think [[mock:reasoning=000]]', { bound: 900 });
      const thought = await call(style, MODELS[upstream], 'Think [[mock:reasoning=300]]', { bound: 900 });
      expect([plain.status, thought.status]).toEqual([200, 200]);
      const a = await usageOf(plain.headers.get('x-tt-request-id')!);
      const b = await usageOf(thought.headers.get('x-tt-request-id')!);
      expect(b.input_tokens).toBe(a.input_tokens);
      expect(b.output_tokens - a.output_tokens).toBe(300);
      expect(Number(b.cost_micros) - Number(a.cost_micros)).toBe((300 * PRICE.output) / 1e6);
      // providers that report reasoning apart (OpenAI, Gemini) have it on the record too
      if (upstream !== 'anthropic') expect(b.reasoning_tokens).toBe(300);
    });

    it.each(['gpt-x', 'claude-x', 'gemini-x'])('a stream on %s whose client hangs up after the first visible token pays the upstream usage for the whole call', async (model) => {
      const prompt = 'Ramble on [[mock:reasoning=400]] [[mock:chunk_delay=40]] [[mock:reply=one two three four five six seven eight nine ten eleven twelve]]';
      // the whole call, not streamed, for the upstream's own usage of it
      const whole = await call('openai', model, prompt, { bound: 900 });
      expect(whole.status).toBe(200);
      const full = await usageOf(whole.headers.get('x-tt-request-id')!);

      const client = new OpenAI({ apiKey: key, baseURL: `${g.base}/v1`, maxRetries: 0 });
      const stream = await client.chat.completions.create({ model, stream: true, max_completion_tokens: 900, messages: [{ role: 'user', content: prompt }] }).withResponse();
      const requestId = stream.response.headers.get('x-tt-request-id')!;
      let seen = '';
      for await (const chunk of stream.data) {
        seen += chunk.choices[0]?.delta?.content ?? '';
        if (seen.length > 0) break; // the first visible token: hang up
      }
      const cut = await usageOf(requestId);
      expect(cut).toBeDefined();
      expect(cut.output_tokens).toBe(full.output_tokens);
      expect(cut.input_tokens).toBe(full.input_tokens);
      expect(cut.cost_micros).toBe(full.cost_micros);
      expect(cut.output_tokens).toBeGreaterThanOrEqual(400 + 12);
      expect((await settledAccount(g, accountId)).held_micros).toBe(0);
    }, 30_000);
  });

  describe('prompt cache reads and writes', () => {
    const pricing = { input_per_mtok_micros: 1_000_000, cached_input_per_mtok_micros: 100_000, output_per_mtok_micros: 2_000_000 };

    beforeAll(async () => {
      expect((await adminCall(g, 'POST', '/admin/models', { id: 'claude-cache', kind: 'chat', pricing, limits: { max_output_tokens: 500 } })).status).toBe(201);
      await adminCall(g, 'POST', '/admin/channels', { name: 'mock-claude-cache', provider: 'anthropic', base_url: g.mockBase, api_key: 'k', models: { 'claude-cache': 'claude-sonnet-4-5' } });
    });

    it.each(['anthropic', 'openai'] as Style[])('%s client: cache writes (5 min at 1.25x, 1 h at 2x) and reads (cached rate) priced by their fields, with the headers', async (style) => {
      // a prompt long enough (about 100 tokens) to hold 60 cached and written ones
      const res = await call(style, 'claude-cache', `Cache me ${'lorem '.repeat(60)} [[mock:cached=20]] [[mock:cache_write=30]] [[mock:cache_write_hour=10]]`, { bound: 100 });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, any>;
      const u = await usageOf(res.headers.get('x-tt-request-id')!);
      expect([u.cached_input_tokens, u.cache_write_tokens, u.cache_write_1h_tokens]).toEqual([20, 30, 10]);
      const plain = u.input_tokens - 20 - 30 - 10;
      // micros: plain x 1 + 20 x 0.1 + 30 x 1.25 + 10 x 2 + output x 2, rounded up once
      expect(Number(u.cost_micros)).toBe(Math.ceil(plain * 1 + 2 + 37.5 + 20 + u.output_tokens * 2));
      expect(res.headers.get('x-tt-cache-read-tokens')).toBe('20');
      expect(res.headers.get('x-tt-cache-savings-micros')).toBe('18'); // 20 tokens x (1.0 - 0.1) micros
      if (style === 'anthropic') {
        expect(body.usage.cache_read_input_tokens).toBe(20);
        expect(body.usage.cache_creation_input_tokens).toBe(40);
      } else {
        expect(body.usage.prompt_tokens_details.cached_tokens).toBe(20);
        expect(body.usage.prompt_tokens).toBe(u.input_tokens);
      }
    });

    it('holds a request that asks for a 1-hour cache write at the 1-hour write rate', async () => {
      const dry = async (cacheControl?: Record<string, unknown>) => {
        const r = await fetch(`${g.base}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01', 'x-tt-dry-run': 'true' },
          body: JSON.stringify({ model: 'claude-cache', max_tokens: 1, system: [{ type: 'text', text: 'x'.repeat(3000), ...(cacheControl ? { cache_control: cacheControl } : {}) }], messages: [{ role: 'user', content: 'hi' }] }),
        });
        expect(r.status).toBe(200);
        return ((await r.json()) as { estimated_cost_micros: number }).estimated_cost_micros;
      };
      const plain = await dry();
      const fiveMin = await dry({ type: 'ephemeral' });
      const hour = await dry({ type: 'ephemeral', ttl: '1h' });
      expect(fiveMin).toBe(Math.ceil((plain - 2) * 1.25) + 2); // input at 1.25x, the one output token at 2 micros
      expect(hour).toBe((plain - 2) * 2 + 2);
    });
  });

  describe('features billed beyond tokens', () => {
    it('refuses the priority service tier with a 400 naming the field', async () => {
      const res = await call('openai', 'gpt-x', 'Fast please', { extra: { service_tier: 'priority' } });
      expect(res.status).toBe(400);
      const e = (await res.json()) as { error: { param: string; message: string } };
      expect(e.error.param).toBe('service_tier');
    });

    it('refuses an Anthropic web search tool on a model without a search price, and serves and bills it where priced', async () => {
      const tools = [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }];
      const refused = await call('anthropic', 'claude-x', 'Search', { extra: { tools } });
      expect(refused.status).toBe(400);
      const e = (await refused.json()) as { type: string; error: { type: string; message: string } };
      expect(e.error.type).toBe('invalid_request_error');
      expect(e.error.message).toMatch(/tools\[0\].*web search/);

      await adminCall(g, 'POST', '/admin/models', { id: 'claude-search', kind: 'chat', pricing: { input_per_mtok_micros: PRICE.input, output_per_mtok_micros: PRICE.output, per_web_search_micros: 10_000 }, limits: { max_output_tokens: 100 } });
      await adminCall(g, 'POST', '/admin/channels', { name: 'mock-claude-search', provider: 'anthropic', base_url: g.mockBase, api_key: 'k', models: { 'claude-search': 'claude-sonnet-4-5' } });
      const dry = await call('anthropic', 'claude-search', 'Search', { bound: 100, extra: { tools }, headers: { 'x-tt-dry-run': 'true' } });
      expect(dry.status).toBe(200);
      // three searches at 1 cent each are held on top of the tokens
      expect(((await dry.json()) as { estimated_cost_micros: number }).estimated_cost_micros).toBeGreaterThanOrEqual(30_000 + 200);
    });

    it('refuses Gemini grounding with Google Search on a model without a search price', async () => {
      const res = await call('gemini', 'gemini-x', 'Ground me', { extra: { tools: [{ googleSearch: {} }] } });
      expect(res.status).toBe(400);
      const e = (await res.json()) as { error: { status: string; message: string } };
      expect(e.error.message).toMatch(/googleSearch/);
    });
  });
});
