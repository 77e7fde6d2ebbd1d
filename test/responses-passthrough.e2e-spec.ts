import OpenAI from 'openai';
import { clearMock, costOf, mockRequests, PRICE, registerStyleModels } from './support/fixtures';
import { adminCall, newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';
import { testPg } from './support/db';

// Responses API clients on OpenAI channels pass through to the upstream's own /v1/responses (issue 10):
// reasoning, include, store, previous_response_id and reasoning items with encrypted_content reach it
// untouched, and come back as it sent them; the same body for a model served elsewhere is translated, and
// whether a body passes through or translates is decided per channel, so a body only OpenAI can take still
// finds the OpenAI channel of a model whose first channel is another kind. The mock upstream records what
// it received, checks the encrypted_content it gets back is its own, and keeps stored responses.

const CONTEXT = 20_000; // the context window of this suite's models: input stored upstream is held at it
const LIMIT = 1000; // their max_output_tokens

interface UsageRow {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  channel_id: string;
  cost_micros: string;
}

type ResponsesBody = OpenAI.Responses.ResponseCreateParamsNonStreaming;

describe('Responses API pass-through on OpenAI channels', () => {
  let g: StartedGateway;
  let client: OpenAI;
  let key: string;
  let accountId: string;
  let openaiChannel: string;
  let anthropicChannel: string;
  const pg = testPg(4);

  beforeAll(async () => {
    g = await startGateway();
    await registerStyleModels(g); // claude-x on an Anthropic channel, among others
    const pricing = { input_per_mtok_micros: PRICE.input, output_per_mtok_micros: PRICE.output };
    const limits = { max_output_tokens: LIMIT, context_tokens: CONTEXT };
    for (const id of ['gpt-r', 'duo']) expect((await adminCall(g, 'POST', '/admin/models', { id, kind: 'chat', pricing, limits })).status).toBe(201);
    await adminCall(g, 'POST', '/admin/channels', { name: 'mock-openai-r', provider: 'openai', base_url: `${g.mockBase}/v1`, api_key: 'k', models: { 'gpt-r': 'o4-mini' } });
    // duo: an Anthropic channel first by priority, an OpenAI one second
    const a = await adminCall<{ id: string }>(g, 'POST', '/admin/channels', { name: 'duo-anthropic', provider: 'anthropic', base_url: g.mockBase, api_key: 'k', priority: 10, models: { duo: 'claude-sonnet-4-5' } });
    const o = await adminCall<{ id: string }>(g, 'POST', '/admin/channels', { name: 'duo-openai', provider: 'openai', base_url: `${g.mockBase}/v1`, api_key: 'k', priority: 0, models: { duo: 'o4-mini' } });
    expect([a.status, o.status]).toEqual([201, 201]);
    anthropicChannel = a.json.id;
    openaiChannel = o.json.id;
    const acct = await newAccount(g, 100_000_000);
    client = acct.client;
    key = acct.key;
    accountId = acct.id;
  }, 120_000);

  afterAll(async () => {
    await pg.end();
    await g?.stop();
  }, 30_000);

  async function usageOf(requestId: string, timeoutMs = 15_000): Promise<UsageRow> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await pg.query<UsageRow>('SELECT * FROM usage_records WHERE request_id = $1', [requestId]);
      if (rows[0] || Date.now() > until) return rows[0];
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const firstTurn: ResponsesBody = {
    model: 'gpt-r',
    instructions: 'Be brief.',
    input: [{ role: 'user', content: 'Plan a trip to Lima [[mock:reasoning=300]]' }],
    reasoning: { effort: 'high' },
    include: ['reasoning.encrypted_content'],
    store: false,
    max_output_tokens: 500,
  };

  it('passes the body untouched to /v1/responses, returns the reasoning item with encrypted_content, and bills the reasoning', async () => {
    await clearMock(g);
    const { data: res, response } = await client.responses.create(firstTurn).withResponse();
    expect(res.model).toBe('gpt-r');
    expect(res.id).toMatch(/^resp_/);
    const [reasoning, message] = res.output;
    expect(reasoning).toMatchObject({ type: 'reasoning', summary: [], encrypted_content: expect.stringMatching(/^gAAAA/) });
    expect(message).toMatchObject({ type: 'message', role: 'assistant' });
    expect(res.output_text).toBe('This is a deterministic mock reply to: Plan a trip to Lima');
    expect(res.usage!.output_tokens_details.reasoning_tokens).toBe(300);

    // the upstream got the client's own body on its Responses route, with only the model name mapped
    const recs = await mockRequests(g);
    expect(recs.map((r) => [r.provider, r.path])).toEqual([['openai', '/v1/responses']]);
    expect(recs[0].body).toEqual({ ...firstTurn, model: 'o4-mini' });

    // billed from the Responses usage: output includes the 300 reasoning tokens, at the output price
    const u = await usageOf(response.headers.get('x-tt-request-id')!);
    expect(u).toMatchObject({ input_tokens: res.usage!.input_tokens, output_tokens: res.usage!.output_tokens, reasoning_tokens: 300 });
    expect(u.output_tokens).toBeGreaterThan(300);
    expect(Number(u.cost_micros)).toBe(costOf(res.usage!.input_tokens, res.usage!.output_tokens));
    expect((await settledAccount(g, accountId)).held_micros).toBe(0);
  });

  it('writes the output bound the hold covers into max_output_tokens when the client gives none, or a larger one', async () => {
    await clearMock(g);
    await client.responses.create({ model: 'gpt-r', input: 'No bound' });
    await client.responses.create({ model: 'gpt-r', input: 'Too large a bound', max_output_tokens: 50_000 });
    const recs = await mockRequests(g);
    expect(recs.map((r) => r.body.max_output_tokens)).toEqual([LIMIT, LIMIT]);
  });

  it('a second turn sends the reasoning item back as it came, and a third continues the stored response by previous_response_id, streamed', async () => {
    const first = await client.responses.create(firstTurn);
    await clearMock(g);
    // stateless, as Codex CLI works: the earlier output goes back in the input, encrypted reasoning included
    // (the mock refuses encrypted_content it did not issue); stored this time, for the third turn
    const second = await client.responses.create({
      model: 'gpt-r',
      input: [...(firstTurn.input as OpenAI.Responses.ResponseInputItem[]), ...(first.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'And the food?' }],
      reasoning: { effort: 'high' },
      include: ['reasoning.encrypted_content'],
    });
    expect(second.output_text).toBe('This is a deterministic mock reply to: And the food?');
    const [sent2] = await mockRequests(g);
    expect((sent2.body.input as unknown[]).slice(1, 3)).toEqual(first.output);

    await clearMock(g);
    const stream = client.responses.stream({ model: 'gpt-r', previous_response_id: second.id, input: 'One more thing [[mock:reasoning=50]]', reasoning: { effort: 'high' }, include: ['reasoning.encrypted_content'] });
    const events: Array<{ type: string; sequence_number: number }> = [];
    for await (const ev of stream) events.push(ev);
    const third = await stream.finalResponse();
    expect(third.model).toBe('gpt-r');
    expect(third.previous_response_id).toBe(second.id);
    // (the SDK's stream helper sets no output_text)
    const message = third.output.find((o) => o.type === 'message') as OpenAI.Responses.ResponseOutputMessage;
    expect(message.content[0]).toMatchObject({ type: 'output_text', text: 'This is a deterministic mock reply to: One more thing' });
    expect(third.output[0]).toMatchObject({ type: 'reasoning', encrypted_content: expect.stringMatching(/^gAAAA/) });
    // the upstream's own events, in its order, numbered as it numbered them
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.output_item.done']);
    expect(types.slice(4, 6)).toEqual(['response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-5)).toEqual(['response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const [sent3] = await mockRequests(g);
    expect(sent3).toMatchObject({ provider: 'openai', path: '/v1/responses' });
    expect(sent3.body).toMatchObject({ model: 'o4-mini', previous_response_id: second.id, stream: true, max_output_tokens: LIMIT });

    // billed from response.completed: the stored conversation's tokens are the upstream's input (the settle
    // reaches the ledger through the outbox after the stream's last event, so wait for it first)
    expect((await settledAccount(g, accountId)).held_micros).toBe(0);
    // (found by its counts, not as the newest row: a batch of the outbox writes drawn calls' records before
    // those of calls whose hold was placed in billing, so the newest row need not be the last call's)
    const { rows } = await pg.query<UsageRow>('SELECT * FROM usage_records WHERE account_id = $1 AND input_tokens = $2 AND output_tokens = $3', [
      accountId,
      third.usage!.input_tokens,
      third.usage!.output_tokens,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ input_tokens: third.usage!.input_tokens, output_tokens: third.usage!.output_tokens, reasoning_tokens: 50 });
    expect(third.usage!.input_tokens).toBeGreaterThan(second.usage!.input_tokens);
    expect(Number(rows[0].cost_micros)).toBe(costOf(third.usage!.input_tokens, third.usage!.output_tokens));
  });

  it('holds input stored upstream at the context window, and relays the upstream refusing an unknown previous_response_id', async () => {
    const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      fetch(`${g.base}/v1/responses`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const dry = await post({ model: 'gpt-r', previous_response_id: 'resp_earlier', input: 'Go on' }, { 'x-tt-dry-run': 'true' });
    expect(dry.status).toBe(200);
    // the context window at $1/M input, and the model's output limit at $2/M
    expect(((await dry.json()) as { estimated_cost_micros: number }).estimated_cost_micros).toBe(CONTEXT + LIMIT * 2);

    const unknown = await post({ model: 'gpt-r', previous_response_id: 'resp_never_stored', input: 'Go on' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/resp_never_stored/);

    const background = await post({ model: 'gpt-r', background: true, input: 'Later' });
    expect(background.status).toBe(400);
    expect(((await background.json()) as { error: { param: string } }).error.param).toBe('background');
    expect((await settledAccount(g, accountId)).held_micros).toBe(0);
  });

  it('the same request for an Anthropic-served model is translated, and previous_response_id there is a 400 naming it', async () => {
    await clearMock(g);
    const { reasoning: _r, include: _i, ...plain } = firstTurn;
    const res = await client.responses.create({ ...plain, model: 'claude-x' });
    expect(res.model).toBe('claude-x');
    expect(res.output_text).toBe('This is a deterministic mock reply to: Plan a trip to Lima');
    const [rec] = await mockRequests(g);
    expect(rec).toMatchObject({ provider: 'anthropic', path: '/v1/messages' });
    expect(rec.body).toMatchObject({ model: 'claude-sonnet-4-5', system: 'Be brief.', max_tokens: 500, messages: [{ role: 'user' }] });
    expect(rec.body.store).toBeUndefined();

    await clearMock(g);
    const err = await client.responses.create({ model: 'claude-x', previous_response_id: 'resp_abc', input: 'Go on' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
    expect((err as Error).message).toMatch(/previous_response_id/);
    expect(await mockRequests(g)).toEqual([]);
    expect((await settledAccount(g, accountId)).held_micros).toBe(0);
  });

  it('a model whose first channel is Anthropic: a plain body goes there, a body only OpenAI can take goes to its OpenAI channel', async () => {
    const stored = await client.responses.create({ model: 'gpt-r', input: 'Remember this' });
    await clearMock(g);
    const plain = await client.responses.create({ model: 'duo', input: 'Plain' }).withResponse();
    expect(plain.data.output_text).toBe('This is a deterministic mock reply to: Plain');
    expect((await usageOf(plain.response.headers.get('x-tt-request-id')!)).channel_id).toBe(anthropicChannel);

    const { data, response } = await client.responses.create({ model: 'duo', previous_response_id: stored.id, input: 'Stateful' }).withResponse();
    expect(data.model).toBe('duo');
    expect(data.previous_response_id).toBe(stored.id);
    const recs = await mockRequests(g);
    expect(recs.map((r) => [r.provider, r.path])).toEqual([
      ['anthropic', '/v1/messages'],
      ['openai', '/v1/responses'],
    ]);
    const u = await usageOf(response.headers.get('x-tt-request-id')!);
    expect(u.channel_id).toBe(openaiChannel);
    expect(Number(u.cost_micros)).toBe(costOf(data.usage!.input_tokens, data.usage!.output_tokens));
  });

  it('a pass-through stream is relayed event for event, with the model renamed, and billed from response.completed', async () => {
    const res = await fetch(`${g.base}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-r', stream: true, input: 'Stream me [[mock:reply=one two three]]' }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const frames = text.split('\n\n').filter(Boolean);
    expect(frames[0]).toMatch(/^event: response.created\ndata: /);
    const created = JSON.parse(frames[0].split('\ndata: ')[1]) as { response: { model: string } };
    expect(created.response.model).toBe('gpt-r');
    const last = frames.at(-1)!;
    expect(last).toMatch(/^event: response.completed\n/);
    const done = JSON.parse(last.split('\ndata: ')[1]) as { response: { model: string; usage: { input_tokens: number; output_tokens: number } } };
    expect(done.response.model).toBe('gpt-r');
    expect(text.match(/event: response.output_text.delta/g)).toHaveLength(3);
    const u = await usageOf(res.headers.get('x-tt-request-id')!);
    expect([u.input_tokens, u.output_tokens]).toEqual([done.response.usage.input_tokens, done.response.usage.output_tokens]);
    expect(Number(u.cost_micros)).toBe(costOf(done.response.usage.input_tokens, done.response.usage.output_tokens));
  });
});
