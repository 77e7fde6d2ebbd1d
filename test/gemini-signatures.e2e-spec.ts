import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, type Content, type Part } from '@google/genai';
import OpenAI from 'openai';
import { splitToolId } from '@gateway/protocols';
import { clearMock, mockRequests, PRICE } from './support/fixtures';
import { adminCall, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// Gemini 3 signs its function calls and refuses a later turn that replays a call without its signature
// (the mock does as Gemini does for gemini-3 models). A two-turn tool loop from every client style against
// a model served by a Gemini channel as gemini-3-pro-preview, streamed and not: turn 1 gets the call, turn 2
// replays it with its result and gets the answer, which it can only get if the signature came back.
// Beside it, reasoning controls from each style reaching Gemini 3 (a thinking level) and Anthropic (a budget
// below max_tokens, which the mock checks as Anthropic does), and the thinking coming back.

const MODEL = 'gem3';
const UPSTREAM = 'gemini-3-pro-preview';
const PROMPT = 'Weather in Paris? [[mock:tool_args={"city":"Paris"}]]';
const ANSWER = 'Tool result received: {"temp":21}';
const weather = { name: 'get_weather', description: 'Weather for a city', schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

interface Recorded {
  path: string;
  body: { contents: Array<{ role: string; parts: Array<{ functionCall?: { name: string }; thoughtSignature?: string }> }> };
}

describe('Gemini 3 thought signatures and reasoning controls through every client style', () => {
  let g: StartedGateway;
  let key: string;
  let accountId: string;
  let openai: OpenAI;
  let anthropic: Anthropic;
  let gemini: GoogleGenAI;

  beforeAll(async () => {
    g = await startGateway();
    const pricing = { input_per_mtok_micros: PRICE.input, output_per_mtok_micros: PRICE.output };
    const m = await adminCall(g, 'POST', '/admin/models', { id: MODEL, kind: 'chat', pricing, limits: { max_output_tokens: 1000 } });
    if (m.status !== 201) throw new Error(`model: ${JSON.stringify(m.json)}`);
    const c = await adminCall(g, 'POST', '/admin/channels', { name: 'mock-gemini-3', provider: 'gemini', base_url: g.mockBase, api_key: 'upstream-key', models: { [MODEL]: UPSTREAM } });
    if (c.status !== 201) throw new Error(`channel: ${JSON.stringify(c.json)}`);
    // for reasoning controls into a budget: a Claude model whose output limit is below what clients ask
    expect((await adminCall(g, 'POST', '/admin/models', { id: 'claude-think', kind: 'chat', pricing, limits: { max_output_tokens: 4000 } })).status).toBe(201);
    expect((await adminCall(g, 'POST', '/admin/channels', { name: 'mock-claude', provider: 'anthropic', base_url: g.mockBase, api_key: 'k', models: { 'claude-think': 'claude-sonnet-4-6' } })).status).toBe(201);
    const acct = await adminCall<{ id: string }>(g, 'POST', '/admin/accounts', { name: 'signatures', credit_micros: 50_000_000 });
    accountId = acct.json.id;
    key = (await adminCall<{ key: string }>(g, 'POST', `/admin/accounts/${accountId}/keys`, { name: 'signatures' })).json.key;
    openai = new OpenAI({ apiKey: key, baseURL: `${g.base}/v1`, maxRetries: 0 });
    anthropic = new Anthropic({ apiKey: key, baseURL: g.base, maxRetries: 0 });
    gemini = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: g.base, fetch } as never });
  }, 120_000);

  afterAll(() => g?.stop(), 30_000);

  /** The signature the mock put on the call of turn 1, as turn 2 gave it back to the mock. */
  async function replayedSignature(): Promise<string | undefined> {
    const recs = (await mockRequests(g)) as unknown as Recorded[];
    expect(recs.map((r) => r.path.split(':')[0])).toEqual([`/v1beta/models/${UPSTREAM}`, `/v1beta/models/${UPSTREAM}`]);
    const model = recs[1].body.contents.find((c) => c.role === 'model')!;
    const call = model.parts.find((p) => p.functionCall);
    expect(call?.functionCall?.name).toBe('get_weather');
    return call?.thoughtSignature;
  }

  /** A call id carries the signature base64url-encoded; the mock's signatures are standard base64 with + and /. */
  function expectSignedId(id: string): string {
    const { id: own, signature } = splitToolId(id);
    expect(own).not.toContain('__ts');
    expect(signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(signature).toMatch(/[+/]/);
    return signature!;
  }

  afterEach(async () => {
    // every call of the loop was settled and nothing stays held
    expect((await settledAccount(g, accountId)).held_micros).toBe(0);
  });

  describe('OpenAI chat completions', () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: weather.name, description: weather.description, parameters: weather.schema } }];

    it('not streamed: the signature rides in the tool call id and goes back to Gemini on the call', async () => {
      await clearMock(g);
      const first = await openai.chat.completions.create({ model: MODEL, tools, messages: [{ role: 'user', content: PROMPT }] });
      expect(first.choices[0].finish_reason).toBe('tool_calls');
      const call = first.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
      const signature = expectSignedId(call.id);

      const second = await openai.chat.completions.create({
        model: MODEL,
        tools,
        messages: [{ role: 'user', content: PROMPT }, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' }],
      });
      expect(second.choices[0].message.content).toBe(ANSWER);
      expect(await replayedSignature()).toBe(signature);
    });

    it('streamed: the id of the streamed call carries it the same way', async () => {
      await clearMock(g);
      const stream = await openai.chat.completions.create({ model: MODEL, tools, stream: true, messages: [{ role: 'user', content: PROMPT }] });
      let id = '';
      let args = '';
      for await (const chunk of stream) {
        const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
        if (tc?.id) id = tc.id;
        args += tc?.function?.arguments ?? '';
      }
      const signature = expectSignedId(id);

      const next = await openai.chat.completions.create({
        model: MODEL,
        tools,
        stream: true,
        messages: [
          { role: 'user', content: PROMPT },
          { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: args } }] },
          { role: 'tool', tool_call_id: id, content: '{"temp":21}' },
        ],
      });
      let text = '';
      for await (const chunk of next) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).toBe(ANSWER);
      expect(await replayedSignature()).toBe(signature);
    });

    it('a replay that lost the signature is refused by Gemini: the client gets the 400', async () => {
      await clearMock(g);
      const first = await openai.chat.completions.create({ model: MODEL, tools, messages: [{ role: 'user', content: PROMPT }] });
      const call = first.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      const bare = splitToolId(call.id).id;
      const err = await openai.chat.completions
        .create({
          model: MODEL,
          tools,
          messages: [
            { role: 'user', content: PROMPT },
            { role: 'assistant', content: null, tool_calls: [{ ...call, id: bare }] },
            { role: 'tool', tool_call_id: bare, content: '{"temp":21}' },
          ],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as Error).message).toContain('missing a thought_signature');
    });
  });

  describe('OpenAI Responses', () => {
    const tools: OpenAI.Responses.FunctionTool[] = [{ type: 'function', name: weather.name, description: weather.description, parameters: weather.schema, strict: false }];

    for (const streamed of [false, true]) {
      it(`${streamed ? 'streamed' : 'not streamed'}: the signature rides in the function_call's call_id`, async () => {
        await clearMock(g);
        const body = { model: MODEL, tools, input: PROMPT };
        const first = streamed ? await openai.responses.stream(body).finalResponse() : await openai.responses.create(body);
        const call = first.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
        expect(call).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });
        const signature = expectSignedId(call.call_id);

        const nextBody = {
          model: MODEL,
          tools,
          input: [{ role: 'user' as const, content: PROMPT }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output' as const, call_id: call.call_id, output: '{"temp":21}' }],
        };
        const second = streamed ? await openai.responses.stream(nextBody).finalResponse() : await openai.responses.create(nextBody);
        // a streamed final response has no output_text convenience: the text is in its message item
        const text = second.output.flatMap((o) => (o.type === 'message' ? o.content : [])).map((c) => (c.type === 'output_text' ? c.text : '')).join('');
        expect(text).toBe(ANSWER);
        expect(await replayedSignature()).toBe(signature);
      });
    }
  });

  describe('Anthropic messages', () => {
    const tools: Anthropic.Tool[] = [{ name: weather.name, description: weather.description, input_schema: weather.schema as Anthropic.Tool.InputSchema }];

    for (const streamed of [false, true]) {
      it(`${streamed ? 'streamed' : 'not streamed'}: the signature rides in the tool_use id (a valid Anthropic id)`, async () => {
        await clearMock(g);
        const body: Anthropic.MessageCreateParamsNonStreaming = { model: MODEL, max_tokens: 300, tools, messages: [{ role: 'user', content: PROMPT }] };
        const first = streamed ? await anthropic.messages.stream(body).finalMessage() : await anthropic.messages.create(body);
        expect(first.stop_reason).toBe('tool_use');
        const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
        expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
        expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);
        const signature = expectSignedId(use.id);

        const nextBody: Anthropic.MessageCreateParamsNonStreaming = {
          ...body,
          messages: [
            { role: 'user', content: PROMPT },
            { role: 'assistant', content: first.content },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"temp":21}' }] },
          ],
        };
        const second = streamed ? await anthropic.messages.stream(nextBody).finalMessage() : await anthropic.messages.create(nextBody);
        expect(second.content[0]).toMatchObject({ type: 'text', text: ANSWER });
        expect(await replayedSignature()).toBe(signature);
      });
    }
  });

  describe('Gemini generateContent', () => {
    const config = { tools: [{ functionDeclarations: [{ name: weather.name, description: weather.description, parametersJsonSchema: weather.schema }] }] };
    const result: Content = { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] };

    for (const streamed of [false, true]) {
      it(`${streamed ? 'streamed' : 'not streamed'}: thoughtSignature on the part, as Gemini sends it`, async () => {
        await clearMock(g);
        const ask: Content = { role: 'user', parts: [{ text: PROMPT }] };
        let model: Content;
        if (streamed) {
          const parts: Part[] = [];
          for await (const chunk of await gemini.models.generateContentStream({ model: MODEL, contents: [ask], config })) parts.push(...(chunk.candidates?.[0]?.content?.parts ?? []));
          model = { role: 'model', parts };
        } else {
          model = (await gemini.models.generateContent({ model: MODEL, contents: [ask], config })).candidates![0].content!;
        }
        const call = model.parts!.find((p) => p.functionCall)!;
        expect(call.functionCall).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } });
        expect(call.thoughtSignature).toMatch(/^[A-Za-z0-9+/]+=*$/);

        let text = '';
        if (streamed) {
          for await (const chunk of await gemini.models.generateContentStream({ model: MODEL, contents: [ask, model, result], config })) text += chunk.text ?? '';
        } else {
          text = (await gemini.models.generateContent({ model: MODEL, contents: [ask, model, result], config })).text ?? '';
        }
        expect(text).toBe(ANSWER);
        expect(await replayedSignature()).toBe(call.thoughtSignature);
      });
    }
  });

  describe('reasoning controls reach Gemini 3 as a thinking level, and its thoughts come back', () => {
    const thinkingConfig = async () => ((await mockRequests(g))[0].body.generationConfig as { thinkingConfig?: unknown }).thinkingConfig;

    it('Claude Code’s thinking and output_config: thinkingLevel high with thoughts shown, a thinking block back', async () => {
      await clearMock(g);
      const msg = await anthropic.messages.create({
        model: MODEL,
        max_tokens: 2000,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        output_config: { effort: 'high' },
        messages: [{ role: 'user', content: 'Think first [[mock:reasoning=6]]' }],
      });
      expect(await thinkingConfig()).toEqual({ thinkingLevel: 'high', includeThoughts: true });
      expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
      expect(msg.content[0]).toMatchObject({ type: 'thinking', thinking: 'Considered the request in 6 tokens.' });
    });

    it('OpenAI’s reasoning_effort and the Responses API’s reasoning: the level, the summary as a reasoning item', async () => {
      await clearMock(g);
      const chat = await openai.chat.completions.create({ model: MODEL, reasoning_effort: 'low', messages: [{ role: 'user', content: 'Think [[mock:reasoning=6]]' }] });
      expect(chat.usage?.completion_tokens_details?.reasoning_tokens).toBe(6);
      expect(await thinkingConfig()).toEqual({ thinkingLevel: 'low' });

      await clearMock(g);
      const r = await openai.responses.create({ model: MODEL, reasoning: { effort: 'medium', summary: 'auto' }, input: 'Think [[mock:reasoning=6]]' });
      // Gemini 3 Pro has no medium level: high is the nearest it has
      expect(await thinkingConfig()).toEqual({ thinkingLevel: 'high', includeThoughts: true });
      expect(r.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Considered the request in 6 tokens.' }] });
      expect(r.output_text).toBe('This is a deterministic mock reply to: Think');
    });
  });

  describe('reasoning controls reach Anthropic as a budget below the call’s max_tokens (the mock refuses one that is not)', () => {
    const thinking = async () => (await mockRequests(g))[0].body.thinking;

    it('OpenAI’s reasoning_effort high: a budget one below the bound, and the thinking back as reasoning_content', async () => {
      await clearMock(g);
      const r = await openai.chat.completions.create({ model: 'claude-think', reasoning_effort: 'high', messages: [{ role: 'user', content: 'Think [[mock:reasoning=5]]' }] });
      expect(await thinking()).toEqual({ type: 'enabled', budget_tokens: 3999 });
      expect(r.choices[0].message).toMatchObject({ content: 'This is a deterministic mock reply to: Think', reasoning_content: 'Considered the request in 5 tokens.' });
    });

    it('Claude Code’s own budget, passed through, is lowered with max_tokens to the model’s limit', async () => {
      await clearMock(g);
      // streamed, as Claude Code calls (the SDK refuses so large a max_tokens otherwise)
      const msg = await anthropic.messages
        .stream({
          model: 'claude-think',
          max_tokens: 32000,
          thinking: { type: 'enabled', budget_tokens: 31999 },
          output_config: { effort: 'high' },
          messages: [{ role: 'user', content: 'Think [[mock:reasoning=5]]' }],
        })
        .finalMessage();
      const [rec] = await mockRequests(g);
      expect(rec.body).toMatchObject({ max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 3999 }, output_config: { effort: 'high' } });
      expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    });
  });

  it('the mock, called directly, refuses a gemini-3 replay without the signature it issued (Gemini’s 400)', async () => {
    const call = { functionCall: { name: 'get_weather', args: { city: 'Paris' } } };
    const contents = [
      { role: 'user', parts: [{ text: PROMPT }] },
      { role: 'model', parts: [call] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
    ];
    const post = (model: string, body: unknown) =>
      fetch(`${g.mockBase}/v1beta/models/${model}:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': 'k', 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const refused = await post(UPSTREAM, { contents });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/^Function call is missing a thought_signature in functionCall parts\. .*`default_api:get_weather` , position 2\./) },
    });

    // the signature the mock issues for that call makes the same replay pass; an older model never checks
    const tools = [{ functionDeclarations: [{ name: weather.name, parametersJsonSchema: weather.schema }] }];
    const issued = (await (await post(UPSTREAM, { contents: contents.slice(0, 1), tools })).json()) as { candidates: Array<{ content: { parts: Array<{ thoughtSignature?: string }> } }> };
    const signature = issued.candidates[0].content.parts[0].thoughtSignature;
    expect(signature).toBeDefined();
    const signed = [contents[0], { role: 'model', parts: [{ ...call, thoughtSignature: signature }] }, contents[2]];
    expect((await post(UPSTREAM, { contents: signed })).status).toBe(200);
    expect((await post('gemini-2.5-flash', { contents })).status).toBe(200);
  });
});
