import OpenAI from 'openai';
import { exec } from 'node:child_process';
import { promisify } from 'node:util';
import { testPrisma } from './support/db';
import { adminCall, newAccount as createAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// Prices of the seeded demo model, gpt-4o-mini, in micros per million tokens.
const INPUT = 150_000;
const OUTPUT = 600_000;
const expectedCost = (u: { prompt_tokens: number; completion_tokens: number }) => Math.ceil((u.prompt_tokens * INPUT + u.completion_tokens * OUTPUT) / 1_000_000);

interface Account {
  id: string;
  balance_micros: number;
  held_micros: number;
  available_micros: number;
}

describe('chat completions end to end, with the official openai SDK', () => {
  let g: StartedGateway;
  const prisma = testPrisma(2);

  beforeAll(async () => {
    g = await startGateway();
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await prisma.$disconnect();
  });

  const newAccount = (credit: number, keyBody: Record<string, unknown> = {}) => createAccount(g, credit, keyBody);

  const account = (id: string) => settledAccount<Account>(g, id);

  it('prints a curl line that works when pasted', async () => {
    const { stdout } = await promisify(exec)(g.curl, { shell: '/bin/bash' });
    const body = JSON.parse(stdout);
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message.content).toContain('Hello!');
  });

  it('non-streamed: content and usage arrive, the balance drops by exactly the price, nothing stays held', async () => {
    const a = await newAccount(1_000_000);
    const { data, response } = await a.client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say something deterministic' }] })
      .withResponse();
    expect(data.choices[0].message.content).toBe('This is a deterministic mock reply to: Say something deterministic');
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage!.completion_tokens).toBe(10); // the mock counts one token a word
    expect(response.headers.get('x-tt-request-id')).toMatch(/^req_/);
    expect(response.headers.get('x-tt-hold-id')).toMatch(/^hold_/);
    const after = await account(a.id);
    expect(after.balance_micros).toBe(1_000_000 - expectedCost(data.usage!));
    expect(after.held_micros).toBe(0);
    const usage = await prisma.usageRecord.findUniqueOrThrow({ where: { requestId: response.headers.get('x-tt-request-id')! } });
    expect(Number(usage.costMicros)).toBe(expectedCost(data.usage!));
  });

  it('streamed with include_usage: chunks, then usage; the charge is exact', async () => {
    const a = await newAccount(1_000_000);
    const stream = await a.client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'Stream me a reply please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    let finish: string | null = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('This is a deterministic mock reply to: Stream me a reply please');
    expect(chunks).toBeGreaterThan(5);
    expect(finish).toBe('stop');
    expect(usage).toBeDefined();
    const after = await account(a.id);
    expect(after.balance_micros).toBe(1_000_000 - expectedCost(usage!));
    expect(after.held_micros).toBe(0);
  });

  it('streamed without include_usage: no usage chunk reaches the client, yet the call is charged exactly', async () => {
    const a = await newAccount(1_000_000);
    const messages = [{ role: 'user' as const, content: 'Count on me' }];
    const plain = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    const afterPlain = (await account(a.id)).balance_micros;
    const stream = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
    let sawUsage = false;
    for await (const chunk of stream) if ('usage' in chunk && chunk.usage) sawUsage = true;
    expect(sawUsage).toBe(false);
    const after = await account(a.id);
    expect(afterPlain - after.balance_micros).toBe(expectedCost(plain.usage!));
    expect(after.held_micros).toBe(0);
  });

  it('an unknown key raises the SDK AuthenticationError', async () => {
    const client = new OpenAI({ apiKey: 'sk-not-a-real-key', baseURL: `${g.base}/v1`, maxRetries: 0 });
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('too little balance: 402 in OpenAI error shape, nothing held or charged', async () => {
    const a = await newAccount(5);
    const err = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'expensive' }], max_tokens: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(/insufficient balance/);
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('x-tt-request-id')).toMatch(/^req_/);
    expect(await account(a.id)).toMatchObject({ balance_micros: 5, held_micros: 0 });
  });

  it('a forced upstream 500 charges nothing and leaves no open hold', async () => {
    const a = await newAccount(1_000_000);
    const err = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'fail please [[mock:status=500]]' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const holdId = (err as InstanceType<typeof OpenAI.APIError>).headers?.get('x-tt-hold-id');
    expect(holdId).toMatch(/^hold_/);
    expect(await account(a.id)).toMatchObject({ balance_micros: 1_000_000, held_micros: 0 });
    const holds = await prisma.hold.findMany({ where: { accountId: a.id } });
    expect(holds.map((h) => h.state)).toEqual(['released']);
    expect(await prisma.ledgerEntry.count({ where: { accountId: a.id, kind: 'charge' } })).toBe(0);
  });

  it('an upstream dying mid-stream gives the client an error, not a clean end, and no charge', async () => {
    const a = await newAccount(1_000_000);
    const stream = await a.client.chat.completions.create({
      model: 'gpt-4o-mini',
      // pieces 20 ms apart, so the first ones reach the gateway before the connection is cut (sent back to
      // back, they can arrive in the same read as the reset, which undici then reports without the data)
      messages: [{ role: 'user', content: 'long answer [[mock:fail_after=3]] [[mock:chunk_delay=20]]' }],
      stream: true,
    });
    let text = '';
    const consume = async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    };
    await expect(consume()).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(text.length).toBeGreaterThan(0);
    expect(await account(a.id)).toMatchObject({ balance_micros: 1_000_000, held_micros: 0 });
  });

  it('a key limited to other models gets 403; lists only what it may use', async () => {
    const a = await newAccount(1_000_000, { models: ['some-other-model'] });
    await expect(a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((await a.client.models.list()).data).toEqual([]);
    const b = await newAccount(1);
    const ids = (await b.client.models.list()).data.map((m) => m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect((await b.client.models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
    await expect(b.client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // a name no registry can hold (a NUL: Postgres text refuses it) is a model that does not exist, not a 500
    const nul = await b.client.chat.completions.create({ model: 'gpt-4o-mini\u0000x', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(nul).toBeInstanceOf(OpenAI.NotFoundError);
    expect((nul as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    await expect(b.client.models.retrieve('x\u0000y')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('a NUL in an id or a field Postgres would be given is a 400 that says so, never a 500', async () => {
    const a = await newAccount(1_000_000);
    const mine = await fetch(`${g.base}/v1/account/requests/x%00`, { headers: { authorization: `Bearer ${a.key}` } });
    expect(mine.status).toBe(400);
    expect(((await mine.json()) as { error: unknown }).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });
    for (const route of ['/admin/accounts/x%00', '/admin/keys/x%00', '/admin/channels/x%00', '/admin/models/x%00', '/admin/requests/x%00', '/admin/accounts/x%00/statement']) {
      const r = await adminCall<{ error: { code: string; message: string } }>(g, 'GET', route);
      expect([route, r.status, r.json.error.code]).toEqual([route, 400, 'invalid_request']);
      expect(r.json.error.message).toMatch(/NUL character/);
    }
    const created = await adminCall<{ error: { code: string } }>(g, 'POST', '/admin/accounts', { name: 'a\u0000b' });
    expect([created.status, created.json.error.code]).toEqual([400, 'invalid_request']);
  });

  it('a malformed body gets a 400 that names the field', async () => {
    const a = await newAccount(1_000_000);
    const err = await a.client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], temperature: 7 })
      .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('temperature');
  });

  it('rate limits: x-ratelimit-* on every response, 429 with Retry-After past the key\'s rpm or tpm', async () => {
    // limits count in one-minute windows: start well inside one, so the test cannot straddle two
    const toNextMinute = 60_000 - (Date.now() % 60_000);
    if (toNextMinute < 5_000) await new Promise((r) => setTimeout(r, toNextMinute + 100));
    const a = await newAccount(1_000_000, { rpm: 3 });
    const first = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'one' }] }).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    expect(first.response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(m\d+)?s$/);
    // a dry run is checked like the live call but not counted
    const dry = await fetch(`${g.base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', 'x-tt-dry-run': 'true' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }) });
    expect(dry.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'two' }] });
    await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'three' }] });
    const err = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'four' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const headers = (err as InstanceType<typeof OpenAI.RateLimitError>).headers!;
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await account(a.id)).held_micros).toBe(0);

    // tokens per minute: the tokens of finished calls count
    const t = await newAccount(1_000_000, { tpm: 25 });
    await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'tokens one' }] });
    await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'tokens two' }] });
    const over = await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'tokens three' }] }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(OpenAI.RateLimitError);
    expect((over as Error).message).toContain('25 tokens per minute');

    // a key without limits of its own gets the defaults; reads carry the headers too
    const d = await newAccount(1);
    const list = await d.client.models.list().withResponse();
    expect(Number(list.response.headers.get('x-ratelimit-limit-requests'))).toBeGreaterThan(3);
    expect(list.response.headers.get('x-ratelimit-limit-tokens')).not.toBeNull();
  });

  it('a revoked key is refused within 1 s', async () => {
    const a = await newAccount(1_000_000);
    await a.client.models.list(); // now cached by ingress
    const revoked = await adminCall(g, 'DELETE', `/admin/keys/${a.keyId}`);
    expect(revoked.status).toBe(200);
    const started = Date.now();
    let refused = false;
    while (Date.now() - started < 1000) {
      const r = await fetch(`${g.base}/v1/models`, { headers: { authorization: `Bearer ${a.key}` } });
      if (r.status === 401) {
        refused = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(refused).toBe(true);
  });

  it('admin routes need the admin token; top-ups are idempotent on their reference', async () => {
    const r = await fetch(`${g.base}/admin/accounts`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: '{"name":"x"}' });
    expect(r.status).toBe(401);
    const a = await newAccount(0);
    const first = await adminCall(g, 'POST', `/admin/accounts/${a.id}/topups`, { amount_micros: 2500, reference: 'inv-1' });
    const again = await adminCall(g, 'POST', `/admin/accounts/${a.id}/topups`, { amount_micros: 2500, reference: 'inv-1' });
    expect([first.status, again.status]).toEqual([201, 200]);
    expect((await account(a.id)).balance_micros).toBe(2500);
    const bad = await adminCall<{ error: { param: string } }>(g, 'POST', `/admin/accounts/${a.id}/topups`, { amount_micros: 1.5, reference: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('amount_micros');
  });
});
