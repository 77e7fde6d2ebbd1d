import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI, type Content, type Part } from '@google/genai';
import OpenAI from 'openai';
import { mockUpstreamConfigSchema, parseConfig } from '@gateway/config';
import { startMockUpstream } from '../server';
import { callSignature } from './thought-signatures';

// Gemini 3's thought signatures and every style's reasoning controls, with the official SDKs as clients.

describe('mock upstream: Gemini 3 signatures and reasoning controls', () => {
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let gemini: GoogleGenAI;
  const tools = [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } }] }];
  const ask: Content = { role: 'user', parts: [{ text: 'Weather in Paris? [[mock:tool_args={"city":"Paris"}]]' }] };
  const result: Content = { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] };
  const signature = callSignature({ name: 'get_weather', args: { city: 'Paris' } });

  beforeAll(async () => {
    mock = await startMockUpstream(parseConfig(mockUpstreamConfigSchema, { MOCK_PORT: '0' }));
    gemini = new GoogleGenAI({ apiKey: 'x', httpOptions: { baseUrl: mock.url, fetch } });
  });

  afterAll(async () => {
    await mock?.app.close();
  });

  it('a gemini-3 model signs its function call, streamed and not, and takes the call back with its signature', async () => {
    const r = await gemini.models.generateContent({ model: 'gemini-3-pro-preview', contents: [ask], config: { tools } });
    const part = r.candidates![0].content!.parts![0];
    expect(part).toEqual({ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: signature });

    const chunks = [];
    for await (const c of await gemini.models.generateContentStream({ model: 'gemini-3-pro-preview', contents: [ask], config: { tools } })) chunks.push(c);
    expect(chunks.flatMap((c) => c.candidates![0].content!.parts!)).toEqual([part]);

    // the SDK's own content, appended as Google says to: accepted
    const next = await gemini.models.generateContent({ model: 'gemini-3-pro-preview', contents: [ask, r.candidates![0].content!, result], config: { tools } });
    expect(next.text).toBe('Tool result received: {"temp":21}');
    // and the answer's last part is signed too
    expect(next.candidates![0].content!.parts!.at(-1)!.thoughtSignature).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('refuses a replay without the signature, or with another, as a Gemini 400', async () => {
    const unsigned: Part = { functionCall: { name: 'get_weather', args: { city: 'Paris' } } };
    const err = await gemini.models.generateContent({ model: 'gemini-3-pro-preview', contents: [ask, { role: 'model', parts: [unsigned] }, result], config: { tools } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toContain('Function call is missing a thought_signature in functionCall parts');

    const raw = await fetch(`${mock.url}/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse&key=k`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [ask, { role: 'model', parts: [{ ...unsigned, thoughtSignature: signature.replace(/\+/g, '-') }] }, result] }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining('Corrupted thought signature') } });
  });

  it('older models neither sign nor check', async () => {
    const r = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: [ask], config: { tools } });
    expect(r.candidates![0].content!.parts![0].thoughtSignature).toBeUndefined();
    const next = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: [ask, { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] }, result], config: { tools } });
    expect(next.text).toBe('Tool result received: {"temp":21}');
  });

  it('takes every style’s reasoning controls, as the real APIs do; Gemini shows thoughts only when asked', async () => {
    const shown = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Think [[mock:reasoning=7]]', config: { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } } });
    expect(shown.candidates![0].content!.parts![0]).toEqual({ text: 'Considered the request in 7 tokens.', thought: true });
    expect(shown.text).toBe('This is a deterministic mock reply to: Think');
    expect(shown.usageMetadata?.thoughtsTokenCount).toBe(7);
    const level = await gemini.models.generateContent({ model: 'gemini-3-pro-preview', contents: 'Think [[mock:reasoning=7]]', config: { thinkingConfig: { thinkingLevel: 'LOW' as never } } });
    expect(level.candidates![0].content!.parts!.some((p) => p.thought)).toBe(false);

    const openai = new OpenAI({ apiKey: 'sk', baseURL: `${mock.url}/v1`, maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: 'o4-mini', reasoning_effort: 'low', messages: [{ role: 'user', content: 'Think' }] });
    expect(chat.choices[0].message.content).toBe('This is a deterministic mock reply to: Think');

    const anthropic = new Anthropic({ apiKey: 'x', baseURL: mock.url, maxRetries: 0 });
    const msg = await anthropic.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      output_config: { effort: 'high' },
      messages: [{ role: 'user', content: 'Think [[mock:reasoning=5]]' }],
    });
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    const adaptive = await anthropic.messages.create({ model: 'claude-opus-4-6', max_tokens: 100, thinking: { type: 'adaptive' }, messages: [{ role: 'user', content: 'Think' }] });
    expect(adaptive.stop_reason).toBe('end_turn');
    // and checks a budget as Anthropic does: below max_tokens
    const over = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'Think' }] }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(Anthropic.BadRequestError);
    expect((over as Error).message).toContain('`max_tokens` must be greater than `thinking.budget_tokens`');
  });
});
