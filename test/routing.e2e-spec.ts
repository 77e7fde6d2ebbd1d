import { createServer, type Server } from 'node:http';
import { clearMock, mockRequests } from './support/fixtures';
import { adminCall, freePort, newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';
import { testPg } from './support/db';

// Routing that survives bad channels (issue 11): a channel failing BREAKER_FAILURES times in a row is left
// out for BREAKER_COOLDOWN_MS, then one probe tests it (a failed probe re-opens it, a good one closes it);
// a model whose channels are all down is served by its fallback model, at the fallback's price.

const COOLDOWN_MS = 2500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An OpenAI-type upstream that answers 500 until healed, then a fixed answer; counts what reached it. */
function flakyUpstream() {
  const state = { hits: 0, healed: false };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.hits++;
      if (!state.healed) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'flaky is down', type: 'server_error' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'chatcmpl-flaky',
          object: 'chat.completion',
          created: 1,
          model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'healed' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
        }),
      );
    });
  });
  return { state, server };
}

describe('routing: circuit breaker and fallbacks', () => {
  let g: StartedGateway;
  let account: Awaited<ReturnType<typeof newAccount>>;
  const flaky = flakyUpstream();
  const pg = testPg(2);
  const pricing = { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 };

  beforeAll(async () => {
    await new Promise<void>((r) => flaky.server.listen(0, '127.0.0.1', r));
    g = await startGateway({ BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: String(COOLDOWN_MS), UPSTREAM_RETRY_BACKOFF_MS: '50' });
    account = await newAccount(g, 100_000_000);
  }, 120_000);

  afterAll(async () => {
    await pg.end();
    await g?.stop();
    flaky.server.close();
  }, 30_000);

  const chat = (model: string, headers: Record<string, string> = {}) =>
    fetch(`${g.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 20 }),
    });
  const answer = async (res: Response) => {
    expect(res.status).toBe(200);
    return ((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content;
  };

  it('skips a channel after N failures for the cool-down, probes it, re-opens on a failed probe and closes on a good one', async () => {
    const port = (flaky.server.address() as { port: number }).port;
    expect((await adminCall(g, 'POST', '/admin/models', { id: 'routed', kind: 'chat', pricing })).status).toBe(201);
    // the flaky channel is preferred (higher priority); the mock is the spare
    expect((await adminCall(g, 'POST', '/admin/channels', { name: 'flaky', provider: 'openai', base_url: `http://127.0.0.1:${port}`, api_key: 'k', priority: 10, models: { routed: 'gpt-4o-mini' } })).status).toBe(201);
    expect((await adminCall(g, 'POST', '/admin/channels', { name: 'spare', provider: 'openai', base_url: `${g.mockBase}/v1`, api_key: 'k', models: { routed: 'gpt-4o-mini' } })).status).toBe(201);
    await clearMock(g);

    // two failures in a row: each call still succeeds on the spare
    for (let i = 0; i < 2; i++) expect(await answer(await chat('routed'))).not.toBe('healed');
    expect(flaky.state.hits).toBe(2);
    // open: the flaky channel is not tried at all during the cool-down
    const openedAt = Date.now();
    for (let i = 0; i < 5; i++) expect(await answer(await chat('routed'))).not.toBe('healed');
    expect(flaky.state.hits).toBe(2);
    expect((await mockRequests(g)).length).toBe(7);

    // after the cool-down one probe goes through; it fails, so the channel is open again at once
    await sleep(Math.max(0, openedAt + COOLDOWN_MS + 200 - Date.now()));
    expect(await answer(await chat('routed'))).not.toBe('healed');
    expect(flaky.state.hits).toBe(3);
    const reopenedAt = Date.now();
    for (let i = 0; i < 3; i++) await answer(await chat('routed'));
    expect(flaky.state.hits).toBe(3);

    // healed: still skipped until the cool-down ends, then the probe succeeds and the channel is back
    flaky.state.healed = true;
    await answer(await chat('routed'));
    expect(flaky.state.hits).toBe(3);
    await sleep(Math.max(0, reopenedAt + COOLDOWN_MS + 200 - Date.now()));
    expect(await answer(await chat('routed'))).toBe('healed');
    expect(flaky.state.hits).toBe(4);
    for (let i = 0; i < 3; i++) expect(await answer(await chat('routed'))).toBe('healed');
    expect(flaky.state.hits).toBe(7);
  }, 60_000);

  it('a model whose channels are all down is served by its fallback model, priced and recorded as the fallback', async () => {
    const closedPort = await freePort();
    const dearer = { input_per_mtok_micros: 3_000_000, output_per_mtok_micros: 6_000_000 };
    expect((await adminCall(g, 'POST', '/admin/models', { id: 'fb-backup', kind: 'chat', pricing: dearer })).status).toBe(201);
    expect((await adminCall(g, 'POST', '/admin/channels', { name: 'backup', provider: 'openai', base_url: `${g.mockBase}/v1`, api_key: 'k', models: { 'fb-backup': 'gpt-4o-mini' } })).status).toBe(201);
    expect((await adminCall(g, 'POST', '/admin/models', { id: 'fb-primary', kind: 'chat', pricing })).status).toBe(201);
    expect((await adminCall(g, 'POST', '/admin/channels', { name: 'dead', provider: 'openai', base_url: `http://127.0.0.1:${closedPort}/v1`, api_key: 'k', models: { 'fb-primary': 'gpt-4o-mini' } })).status).toBe(201);

    // fallbacks are validated: existing models of the same kind, not itself, each once
    expect((await adminCall(g, 'PATCH', '/admin/models/fb-primary', { fallbacks: ['nope'] })).status).toBe(400);
    expect((await adminCall(g, 'PATCH', '/admin/models/fb-primary', { fallbacks: ['fb-primary'] })).status).toBe(400);
    expect((await adminCall(g, 'PATCH', '/admin/models/fb-primary', { fallbacks: ['fb-backup', 'fb-backup'] })).status).toBe(400);
    const patched = await adminCall<{ fallbacks: string[] }>(g, 'PATCH', '/admin/models/fb-primary', { fallbacks: ['fb-backup'] });
    expect(patched.status).toBe(200);
    expect(patched.json.fallbacks).toEqual(['fb-backup']);
    expect((await adminCall<{ fallbacks: string[] }>(g, 'GET', '/admin/models/fb-primary')).json.fallbacks).toEqual(['fb-backup']);

    // the hold covers the dearer fallback: a dry run of the primary estimates what the backup would
    const dry = async (model: string) => ((await (await chat(model, { 'x-tt-dry-run': 'true' })).json()) as { estimated_cost_micros: number }).estimated_cost_micros;
    expect(await dry('fb-primary')).toBe(await dry('fb-backup'));

    await new Promise((r) => setTimeout(r, 300)); // the models cache hears of the PATCH
    for (let i = 0; i < 4; i++) {
      const res = await chat('fb-primary');
      expect(res.status).toBe(200);
      const requestId = res.headers.get('x-tt-request-id')!;
      const body = (await res.json()) as { model: string; usage: { prompt_tokens: number; completion_tokens: number } };
      // the client asked for fb-primary and is answered as such; the usage record names the model that served
      expect(body.model).toBe('fb-primary');
      await settledAccount(g, account.id);
      const row = (await pg.query<{ model: string; cost_micros: string }>('SELECT model, cost_micros FROM usage_records WHERE request_id = $1', [requestId])).rows[0];
      expect(row.model).toBe('fb-backup');
      const expected = Math.ceil((body.usage.prompt_tokens * dearer.input_per_mtok_micros + body.usage.completion_tokens * dearer.output_per_mtok_micros) / 1e6);
      expect(Number(row.cost_micros)).toBe(expected);
    }
    // the dead channel's circuit opened after two calls (a connect error is retried once, then counts), and
    // with every channel of fb-primary open the fallback is asked straight away
  }, 60_000);
});
