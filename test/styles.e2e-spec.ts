import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI, type FunctionDeclaration } from '@google/genai';
import OpenAI from 'openai';
import { clearMock, costOf, mockRequests, registerStyleModels } from './support/fixtures';
import { adminCall, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// Every API style against every upstream kind, with the official SDKs as clients. The mock upstream records
// what it received, so each test can also check that the upstream was spoken to in its own format.
const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

interface Account {
  balance_micros: number;
  held_micros: number;
}

describe('three API styles, any model through any style', () => {
  let g: StartedGateway;
  let key: string;
  let accountId: string;
  let openai: OpenAI;
  let anthropic: Anthropic;
  let gemini: GoogleGenAI;

  beforeAll(async () => {
    g = await startGateway();
    await registerStyleModels(g);
    const acct = await adminCall<{ id: string }>(g, 'POST', '/admin/accounts', { name: 'styles', credit_micros: 50_000_000 });
    accountId = acct.json.id;
    key = (await adminCall<{ key: string }>(g, 'POST', `/admin/accounts/${accountId}/keys`, { name: 'styles' })).json.key;
    openai = new OpenAI({ apiKey: key, baseURL: `${g.base}/v1`, maxRetries: 0 });
    anthropic = new Anthropic({ apiKey: key, baseURL: g.base, maxRetries: 0 });
    gemini = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: g.base, fetch } as never });
  }, 120_000);

  afterAll(() => g?.stop(), 30_000);

  const balance = () => settledAccount<Account>(g, accountId);

  /** Runs fn and returns what it cost the account; asserts nothing stays held. */
  async function charged<T>(fn: () => Promise<T>): Promise<{ value: T; cost: number }> {
    const before = (await balance()).balance_micros;
    const value = await fn();
    const after = await balance();
    expect(after.held_micros).toBe(0);
    return { value, cost: before - after.balance_micros };
  }

  describe('Claude native clients', () => {
    it('messages.stream().finalMessage() on a model served by an OpenAI-type channel, tool call included', async () => {
      await clearMock(g);
      const { value: msg, cost } = await charged(() =>
        anthropic.messages
          .stream({
            model: 'gpt-x',
            max_tokens: 200,
            system: 'You are terse.',
            tools: [{ name: weatherTool.name, description: weatherTool.description, input_schema: weatherTool.schema as Anthropic.Tool.InputSchema }],
            messages: [{ role: 'user', content: 'Weather in Paris? [[mock:tool_args={"city":"Paris"}]]' }],
          })
          .finalMessage(),
      );
      expect(msg.stop_reason).toBe('tool_use');
      const tool = msg.content.find((b) => b.type === 'tool_use');
      expect(tool).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
      expect(msg.usage.input_tokens).toBeGreaterThan(0);
      expect(msg.usage.output_tokens).toBeGreaterThan(0);
      expect(cost).toBe(costOf(msg.usage.input_tokens, msg.usage.output_tokens));
      const [rec] = await mockRequests(g);
      expect(rec).toMatchObject({ provider: 'openai', path: '/v1/chat/completions' });
      expect(rec.body).toMatchObject({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true } });
      expect((rec.body.messages as Array<{ role: string }>)[0]).toEqual({ role: 'system', content: 'You are terse.' });
      expect((rec.body.tools as Array<{ type: string }>)[0].type).toBe('function');

      // the tool result goes back and the conversation continues
      const next = await anthropic.messages.create({
        model: 'gpt-x',
        max_tokens: 200,
        tools: [{ name: weatherTool.name, input_schema: weatherTool.schema as Anthropic.Tool.InputSchema }],
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: msg.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: (tool as Anthropic.ToolUseBlock).id, content: '18C and sunny' }] },
        ],
      });
      expect(next.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('18C and sunny') });
      const sent = (await mockRequests(g))[1].body.messages as Array<{ role: string; tool_call_id?: string }>;
      expect(sent.find((m) => m.role === 'tool')?.tool_call_id).toBe((tool as Anthropic.ToolUseBlock).id);
    });

    it('plain text both ways: to a Gemini-type channel, and native to an Anthropic-type one', async () => {
      await clearMock(g);
      const viaGemini = await charged(() => anthropic.messages.create({ model: 'gemini-x', max_tokens: 100, messages: [{ role: 'user', content: 'Hi Gemini' }] }));
      expect(viaGemini.value.content[0]).toMatchObject({ type: 'text', text: 'This is a deterministic mock reply to: Hi Gemini' });
      expect(viaGemini.cost).toBe(costOf(viaGemini.value.usage.input_tokens, viaGemini.value.usage.output_tokens));
      const native = await charged(() => anthropic.messages.create({ model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: 'Hi Claude' }] }));
      expect(native.value.model).toBe('claude-x');
      expect(native.cost).toBe(costOf(native.value.usage.input_tokens, native.value.usage.output_tokens));
      const recs = await mockRequests(g);
      expect(recs.map((r) => [r.provider, r.path.split('?')[0]])).toEqual([
        ['gemini', '/v1beta/models/gemini-2.5-flash:generateContent'],
        ['anthropic', '/v1/messages'],
      ]);
      expect(recs[0].body).toMatchObject({ contents: [{ role: 'user', parts: [{ text: 'Hi Gemini' }] }], generationConfig: { maxOutputTokens: 100 } });
    });

    it('the same routes answer under /anthropic/v1/...', async () => {
      const prefixed = new Anthropic({ apiKey: key, baseURL: `${g.base}/anthropic`, maxRetries: 0 });
      const msg = await prefixed.messages.create({ model: 'claude-x', max_tokens: 50, messages: [{ role: 'user', content: 'prefixed' }] });
      expect(msg.content[0]).toMatchObject({ type: 'text', text: 'This is a deterministic mock reply to: prefixed' });
      const count = await prefixed.messages.countTokens({ model: 'gpt-x', messages: [{ role: 'user', content: 'prefixed' }] });
      expect(count.input_tokens).toBeGreaterThan(0);
      const models = await anthropic.models.list();
      expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['claude-x', 'gemini-x', 'gpt-x']));
    });

    it('count_tokens is free: forwarded to an Anthropic upstream, counted locally for others', async () => {
      const forwarded = await charged(() => anthropic.messages.countTokens({ model: 'claude-x', messages: [{ role: 'user', content: 'count me please' }] }));
      const local = await charged(() => anthropic.messages.countTokens({ model: 'gpt-x', messages: [{ role: 'user', content: 'count me please' }] }));
      expect(forwarded.value.input_tokens).toBeGreaterThan(0);
      expect(local.value.input_tokens).toBeGreaterThan(0);
      expect([forwarded.cost, local.cost]).toEqual([0, 0]);
    });

    it('a bad key raises AuthenticationError; a body without max_tokens a BadRequestError naming it', async () => {
      const bad = new Anthropic({ apiKey: 'sk-wrong', baseURL: g.base, maxRetries: 0 });
      await expect(bad.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
      const err = await anthropic.messages.create({ model: 'claude-x', messages: [{ role: 'user', content: 'x' }] } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain('max_tokens');
    });

    it('an upstream that dies mid-stream ends the Claude stream with an error event, uncharged', async () => {
      const { cost } = await charged(async () => {
        const stream = anthropic.messages.stream({ model: 'gpt-x', max_tokens: 100, messages: [{ role: 'user', content: 'go [[mock:fail_after=2]]' }] });
        await expect(stream.finalMessage()).rejects.toThrow(/upstream/);
      });
      expect(cost).toBe(0);
    });
  });

  describe('Gemini native clients', () => {
    const fn: FunctionDeclaration = { name: weatherTool.name, description: weatherTool.description, parametersJsonSchema: weatherTool.schema };

    it('generateContentStream on a model served by an OpenAI-type channel, function call included', async () => {
      await clearMock(g);
      const { value, cost } = await charged(async () => {
        const stream = await gemini.models.generateContentStream({
          model: 'gpt-x',
          contents: 'Weather in Rome? [[mock:tool_args={"city":"Rome"}]]',
          config: { tools: [{ functionDeclarations: [fn] }], maxOutputTokens: 300 },
        });
        const chunks = [];
        for await (const chunk of stream) chunks.push(chunk);
        return chunks;
      });
      const calls = value.flatMap((c) => c.functionCalls ?? []);
      expect(calls).toEqual([expect.objectContaining({ name: 'get_weather', args: { city: 'Rome' } })]);
      const usage = value[value.length - 1].usageMetadata!;
      expect(cost).toBe(costOf(usage.promptTokenCount!, usage.candidatesTokenCount! + (usage.thoughtsTokenCount ?? 0)));
      const [rec] = await mockRequests(g);
      expect(rec).toMatchObject({ provider: 'openai', path: '/v1/chat/completions' });
      expect(rec.body).toMatchObject({ max_completion_tokens: 300, tools: [{ type: 'function', function: { name: 'get_weather' } }] });
    });

    it('text streamed from an Anthropic-type channel; generateContent native to a Gemini-type one', async () => {
      await clearMock(g);
      const stream = await gemini.models.generateContentStream({ model: 'claude-x', contents: 'Stream from Claude' });
      let text = '';
      for await (const chunk of stream) text += chunk.text ?? '';
      expect(text).toBe('This is a deterministic mock reply to: Stream from Claude');
      const native = await charged(() => gemini.models.generateContent({ model: 'gemini-x', contents: 'Native Gemini' }));
      expect(native.value.text).toBe('This is a deterministic mock reply to: Native Gemini');
      const u = native.value.usageMetadata!;
      expect(native.cost).toBe(costOf(u.promptTokenCount!, u.candidatesTokenCount!));
      const recs = await mockRequests(g);
      expect(recs.map((r) => r.provider)).toEqual(['anthropic', 'gemini']);
      expect(recs[0].body).toMatchObject({ model: 'claude-sonnet-4-5', stream: true, max_tokens: 1000 });
    });

    it('streamGenerateContent without alt=sse answers one JSON array', async () => {
      const r = await fetch(`${g.base}/v1beta/models/claude-x:streamGenerateContent?key=${key}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'array please' }] }] }),
      });
      expect(r.status).toBe(200);
      const chunks = (await r.json()) as Array<{ candidates: Array<{ content: { parts: Array<{ text?: string }> }; finishReason?: string }> }>;
      expect(chunks.map((c) => c.candidates[0].content.parts.map((p) => p.text ?? '').join('')).join('')).toBe('This is a deterministic mock reply to: array please');
      expect(chunks[chunks.length - 1].candidates[0].finishReason).toBe('STOP');
    });

    it('countTokens is free; models.list lists the chat models', async () => {
      const { value, cost } = await charged(() => gemini.models.countTokens({ model: 'gpt-x', contents: 'how many tokens' }));
      expect(value.totalTokens).toBeGreaterThan(0);
      expect(cost).toBe(0);
      const forwarded = await gemini.models.countTokens({ model: 'gemini-x', contents: 'how many tokens' });
      expect(forwarded.totalTokens).toBeGreaterThan(0);
      const names: string[] = [];
      for await (const m of await gemini.models.list()) names.push(m.name ?? '');
      expect(names).toEqual(expect.arrayContaining(['models/claude-x', 'models/gemini-x', 'models/gpt-x']));
    });

    it('a bad key gets a 401 ApiError; a body without contents a 400 naming it', async () => {
      const bad = new GoogleGenAI({ apiKey: 'sk-wrong', httpOptions: { baseUrl: g.base, fetch } as never });
      const err = await bad.models.generateContent({ model: 'gemini-x', contents: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(401);
      const r = await fetch(`${g.base}/v1beta/models/gemini-x:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': key, 'content-type': 'application/json' }, body: '{}' });
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining('contents') } });
    });
  });

  describe('OpenAI clients on other upstreams', () => {
    it('streams from an Anthropic-type channel with a tool call, arguments arriving in pieces', async () => {
      await clearMock(g);
      const { value, cost } = await charged(async () => {
        const stream = await openai.chat.completions.create({
          model: 'claude-x',
          messages: [{ role: 'user', content: 'Weather in Oslo? [[mock:tool_args={"city":"Oslo"}]]' }],
          tools: [{ type: 'function', function: { name: weatherTool.name, parameters: weatherTool.schema } }],
          stream: true,
          stream_options: { include_usage: true },
        });
        let args = '';
        let pieces = 0;
        let name = '';
        let finish: string | null = null;
        let usage: OpenAI.CompletionUsage | undefined;
        for await (const chunk of stream) {
          const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
          if (tc?.function?.name) name = tc.function.name;
          if (tc?.function?.arguments) {
            args += tc.function.arguments;
            pieces++;
          }
          finish = chunk.choices[0]?.finish_reason ?? finish;
          if (chunk.usage) usage = chunk.usage;
        }
        return { args, pieces, name, finish, usage };
      });
      expect(value.name).toBe('get_weather');
      expect(JSON.parse(value.args)).toEqual({ city: 'Oslo' });
      expect(value.pieces).toBeGreaterThan(1);
      expect(value.finish).toBe('tool_calls');
      expect(cost).toBe(costOf(value.usage!.prompt_tokens, value.usage!.completion_tokens));
      const [rec] = await mockRequests(g);
      expect(rec).toMatchObject({ provider: 'anthropic', path: '/v1/messages' });
      expect(rec.body).toMatchObject({ model: 'claude-sonnet-4-5', stream: true, tools: [{ name: 'get_weather', input_schema: weatherTool.schema }] });
    });

    it('a client that disconnects mid-stream pays what the upstream bills for the whole call (the gateway reads it to the end)', async () => {
      // 40 words at 150 ms each take 6 s to stream
      const prompt = `${'word '.repeat(40)}[[mock:reply=${'word '.repeat(40).trim()}]] [[mock:chunk_delay=150]]`;
      const body = { model: 'claude-x', messages: [{ role: 'user' as const, content: prompt }] };
      // the same call, not streamed: what the upstream bills for it
      const { cost: whole } = await charged(() => openai.chat.completions.create(body));
      const before = (await balance()).balance_micros;
      const ac = new AbortController();
      const res = await fetch(`${g.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
        signal: ac.signal,
      });
      const holdId = res.headers.get('x-tt-hold-id')!;
      const reader = res.body!.getReader();
      let seen = '';
      // a few pieces have arrived: then the client goes away
      while ((seen.match(/"content":"word/g) ?? []).length < 3) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended before the client left');
        seen += new TextDecoder().decode(value);
      }
      const abortedAt = Date.now();
      ac.abort();
      let hold: { state: string; settled_micros: number } | undefined;
      while (Date.now() - abortedAt < 15_000) {
        const r = await adminCall<{ data: Array<{ id: string; state: string; settled_micros: number }> }>(g, 'GET', `/admin/holds?account_id=${accountId}`);
        hold = r.json.data?.find((h) => h.id === holdId);
        if (hold && hold.state !== 'active') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(hold?.state).toBe('settled');
      const after = await balance();
      expect(after.held_micros).toBe(0);
      expect(before - after.balance_micros).toBe(whole);
      expect(hold!.settled_micros).toBe(whole);
    }, 30_000);

    it('plain completion from a Gemini-type channel', async () => {
      const { value, cost } = await charged(() => openai.chat.completions.create({ model: 'gemini-x', messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'Hello Gemini' }] }));
      expect(value.choices[0].message.content).toBe('This is a deterministic mock reply to: Hello Gemini');
      expect(cost).toBe(costOf(value.usage!.prompt_tokens, value.usage!.completion_tokens));
    });

    it('a feature the upstream cannot express is a 400 naming the field, not a silent drop', async () => {
      const err = await openai.chat.completions.create({ model: 'claude-x', messages: [{ role: 'user', content: 'x' }], logprobs: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('logprobs');
      expect((await balance()).held_micros).toBe(0);
    });

    it('the Responses API, streamed and not, across upstream kinds', async () => {
      const plain = await charged(() => openai.responses.create({ model: 'claude-x', instructions: 'be brief', input: 'Responses to Claude' }));
      expect(plain.value.output_text).toBe('This is a deterministic mock reply to: Responses to Claude');
      expect(plain.cost).toBe(costOf(plain.value.usage!.input_tokens, plain.value.usage!.output_tokens));

      const streamed = await charged(async () => {
        const stream = openai.responses.stream({
          model: 'gemini-x',
          input: 'Weather in Lima? [[mock:tool_args={"city":"Lima"}]]',
          tools: [{ type: 'function', name: weatherTool.name, parameters: weatherTool.schema, strict: false }],
        });
        const types = new Set<string>();
        for await (const ev of stream) types.add(ev.type);
        return { final: await stream.finalResponse(), types };
      });
      const call = streamed.value.final.output.find((o) => o.type === 'function_call');
      expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Lima"}' });
      expect([...streamed.value.types]).toEqual(expect.arrayContaining(['response.created', 'response.output_item.added', 'response.function_call_arguments.delta', 'response.completed']));
      const u = streamed.value.final.usage!;
      expect(streamed.cost).toBe(costOf(u.input_tokens, u.output_tokens));

      const viaOpenAI = await openai.responses.create({ model: 'gpt-x', input: [{ role: 'user', content: 'Responses to OpenAI' }] });
      expect(viaOpenAI.output_text).toBe('This is a deterministic mock reply to: Responses to OpenAI');
    });
  });

  describe('fields translated where the upstream has them, refused only where it has none (issue 10)', () => {
    it('n > 1 passes through to an OpenAI channel and is a 400 naming n where it would be translated', async () => {
      await clearMock(g);
      const ok = await charged(() => openai.chat.completions.create({ model: 'gpt-x', n: 2, messages: [{ role: 'user', content: 'Two please' }] }));
      expect(ok.value.choices.length).toBeGreaterThan(0);
      const [rec] = await mockRequests(g);
      expect(rec.body.n).toBe(2);
      const err = await openai.chat.completions.create({ model: 'claude-x', n: 2, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
      expect((await balance()).held_micros).toBe(0);
    });

    it('Gemini sampling fields: topK reaches Claude as top_k, seed reaches OpenAI, safetySettings reach Gemini; cachedContent is a 400 naming it off Gemini', async () => {
      const config = { topK: 64, seed: 3, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] } as never;
      const sent: Record<string, Record<string, unknown>> = {};
      for (const model of ['claude-x', 'gpt-x', 'gemini-x']) {
        await clearMock(g);
        await charged(() => gemini.models.generateContent({ model, contents: 'Sample me', config }));
        sent[model] = (await mockRequests(g))[0].body;
      }
      expect(sent['claude-x'].top_k).toBe(64);
      expect(sent['claude-x']).not.toHaveProperty('seed');
      expect(sent['gpt-x'].seed).toBe(3);
      expect(sent['gpt-x']).not.toHaveProperty('top_k');
      expect(sent['gemini-x']).toMatchObject({ generationConfig: { topK: 64, seed: 3 }, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] });

      const err = await gemini.models.generateContent({ model: 'claude-x', contents: 'x', config: { cachedContent: 'cachedContents/abc' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
      expect((err as ApiError).message).toMatch(/cachedContent/);
      expect((await balance()).held_micros).toBe(0);
    });

    it('an image a tool returned reaches Claude inside its tool_result', async () => {
      await clearMock(g);
      await charged(() =>
        openai.chat.completions.create({
          model: 'claude-x',
          tools: [{ type: 'function', function: { name: 'screenshot', parameters: { type: 'object', properties: {} } } }],
          messages: [
            { role: 'user', content: 'What is on screen?' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } }] },
            { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'captured' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] as never },
          ],
        }),
      );
      const [rec] = await mockRequests(g);
      const last = (rec.body.messages as Array<{ content: Array<Record<string, unknown>> }>).at(-1)!;
      expect(last.content[0]).toEqual({
        type: 'tool_result',
        tool_use_id: 'call_1',
        content: [{ type: 'text', text: 'captured' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }],
      });
    });
  });
});
