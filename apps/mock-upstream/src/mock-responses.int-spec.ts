import OpenAI from 'openai';
import { mockUpstreamConfigSchema, parseConfig } from '@gateway/config';
import { mockTokens } from './directives';
import { startMockUpstream } from './server';

// The mock's Responses API (POST /v1/responses) driven by the official OpenAI SDK, unchanged: what the
// gateway passes through on OpenAI channels is tested against the real API's shapes.

/** prompt tokens for texts (one per message, instructions included): sum(ceil(len/4) + 4) + 3 */
const promptTokens = (...texts: string[]) => texts.reduce((n, t) => n + mockTokens(t) + 4, 3);

const weather: OpenAI.Responses.FunctionTool = { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false };

describe('mock upstream: the Responses API, driven by the OpenAI SDK', () => {
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let openai: OpenAI;

  beforeAll(async () => {
    mock = await startMockUpstream(parseConfig(mockUpstreamConfigSchema, { MOCK_PORT: '0' }));
    openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${mock.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await mock?.app.close();
  });

  it('answers with a reasoning item (encrypted when asked), a message, and usage counting reasoning as output', async () => {
    const res = await openai.responses.create({
      model: 'o4-mini',
      instructions: 'Be brief.',
      input: 'Hello [[mock:cached=2]]',
      reasoning: { effort: 'high', summary: 'auto' },
      include: ['reasoning.encrypted_content'],
      store: false,
    });
    expect(res).toMatchObject({ object: 'response', status: 'completed', model: 'o4-mini', store: false });
    expect(res.id).toMatch(/^resp_/);
    expect(res.output[0]).toMatchObject({ type: 'reasoning', id: expect.stringMatching(/^rs_/), summary: [{ type: 'summary_text' }], encrypted_content: expect.stringMatching(/^gAAAA/) });
    expect(res.output_text).toBe('This is a deterministic mock reply to: Hello');
    const input = promptTokens('Be brief.', 'Hello [[mock:cached=2]]');
    expect(res.usage).toEqual({
      input_tokens: input,
      input_tokens_details: { cached_tokens: 2 },
      output_tokens: 8 + 128, // eight words, and high effort's reasoning
      output_tokens_details: { reasoning_tokens: 128 },
      total_tokens: input + 8 + 128,
    });
    // no reasoning asked, none spent; no include, no encrypted_content
    const plain = await openai.responses.create({ model: 'o4-mini', input: 'Hi [[mock:reasoning=40]]' });
    expect(plain.output[0]).toEqual({ type: 'reasoning', id: expect.any(String), summary: [] });
    expect(plain.usage!.output_tokens_details.reasoning_tokens).toBe(40);
    expect((await openai.responses.create({ model: 'o4-mini', input: 'Hi' })).output.map((o) => o.type)).toEqual(['message']);
  });

  it('refuses encrypted_content it did not issue, and previous_response_id of a response not stored', async () => {
    const first = await openai.responses.create({ model: 'o4-mini', input: 'Hi', reasoning: { effort: 'low' }, include: ['reasoning.encrypted_content'], store: false });
    const reasoning = first.output[0] as OpenAI.Responses.ResponseReasoningItem;
    const back = await openai.responses.create({ model: 'o4-mini', input: [{ role: 'user', content: 'Hi' }, reasoning, { role: 'user', content: 'Again' }] });
    expect(back.output_text).toBe('This is a deterministic mock reply to: Again');
    const tampered = await openai.responses.create({ model: 'o4-mini', input: [{ ...reasoning, encrypted_content: `${reasoning.encrypted_content}x` }, { role: 'user', content: 'Again' }] }).catch((e: unknown) => e);
    expect(tampered).toBeInstanceOf(OpenAI.BadRequestError);
    expect((tampered as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input[0].encrypted_content');

    const notStored = await openai.responses.create({ model: 'o4-mini', previous_response_id: first.id, input: 'Go on' }).catch((e: unknown) => e);
    expect(notStored).toBeInstanceOf(OpenAI.BadRequestError);
    expect((notStored as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
  });

  it('a function call, its output continued by previous_response_id with the stored turns counted as input', async () => {
    const call = await openai.responses.create({ model: 'o4-mini', input: 'Weather in Lima? [[mock:tool_args={"city":"Lima"}]]', tools: [weather] });
    const fc = call.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(fc).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Lima"}', call_id: expect.stringMatching(/^call_/) });
    const next = await openai.responses.create({ model: 'o4-mini', previous_response_id: call.id, input: [{ type: 'function_call_output', call_id: fc.call_id, output: '18C' }], tools: [weather] });
    expect(next.output_text).toBe('Tool result received: 18C');
    expect(next.previous_response_id).toBe(call.id);
    expect(next.usage!.input_tokens).toBe(promptTokens('Weather in Lima? [[mock:tool_args={"city":"Lima"}]]', 'get_weather {"city":"Lima"}', '18C'));
  });

  it('streams the semantic events with sequence numbers, the SDK assembling the same response', async () => {
    const stream = openai.responses.stream({ model: 'o4-mini', input: 'Weather? [[mock:tool_args={"city":"Lima"}]]', tools: [weather], reasoning: { effort: 'low' } });
    const events: Array<{ type: string; sequence_number: number }> = [];
    for await (const ev of stream) events.push(ev);
    const final = await stream.finalResponse();
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(final.output[1]).toMatchObject({ type: 'function_call', arguments: '{"city":"Lima"}' });
    expect(final.usage!.output_tokens_details.reasoning_tokens).toBe(32);
  });

  it('cuts the answer at max_output_tokens: status incomplete, and response.incomplete in a stream', async () => {
    const res = await openai.responses.create({ model: 'o4-mini', input: 'one two three four five', max_output_tokens: 3 });
    expect(res).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(res.usage!.output_tokens).toBe(3);
    const stream = await openai.responses.create({ model: 'o4-mini', input: 'one two three four five', max_output_tokens: 3, stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types.at(-1)).toBe('response.incomplete');
  });
});
