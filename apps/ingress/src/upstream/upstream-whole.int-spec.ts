import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteTarget } from '@gateway/contracts';
import type { UpstreamResponse } from './upstream.client';
import { upstreamTestBed } from '../../../../test/support/upstream-test-bed';

// A call that is not streamed reads its answer whole through undici's dispatch (UpstreamClient's `whole`),
// not request()'s body stream. Against real HTTP servers: the answer, its headers and its errors are what the
// streamed read gives, a failure before the headers moves on to the next channel, and a body that breaks off
// after the headers fails the call on that channel (the upstream may have done the work: no second try).
describe('UpstreamClient: answers read whole (real HTTP)', () => {
  const bed = upstreamTestBed('whole-test', 1500);
  const client = bed.client;
  /** requests each server saw, by its name */
  const seen: Record<string, number> = {};

  const serve = (name: string, handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> =>
    bed.listen((req, res, body) => {
      seen[name] = (seen[name] ?? 0) + 1;
      handle(req, res, body);
    });
  const target = (id: string, base: string, priority: number): RouteTarget => ({ channel_id: id, provider: 'openai', base_url: base, api_key: 'k', upstream_model: 'm', priority, weight: 1 });
  const post = (targets: RouteTarget[], whole: boolean): Promise<UpstreamResponse> =>
    client.postTiers([targets], () => ({ path: '/chat/completions', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' }), new AbortController().signal, { whole });

  afterAll(() => bed.close());

  it('gives the same answer, status and headers as the streamed read', async () => {
    const answer = { id: 'x', choices: [{ message: { content: 'héllo' } }], usage: { prompt_tokens: 3 } };
    const base = await serve('ok', (_req, res, body) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      // in two writes: the whole read joins the chunks
      const text = JSON.stringify({ ...answer, echo: body });
      res.write(text.slice(0, 10));
      setTimeout(() => res.end(text.slice(10)), 5);
    });
    const whole = await post([target('ok', base, 0)], true);
    const streamed = await post([target('ok', base, 0)], false);
    const expected = { ...answer, echo: '{"model":"m"}' };
    expect(await whole.body.json()).toEqual(expected);
    expect(await streamed.body.json()).toEqual(expected);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-type']).toBe('application/json');
    expect(whole.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(whole.headers).toEqual({ ...streamed.headers, date: whole.headers.date });
  });

  it('moves on to the next channel after a failure before the headers (connection refused, a 503)', async () => {
    const refused = await serve('refused', () => undefined);
    const closed = bed.last();
    await new Promise((r) => closed.close(r));
    const busy = await serve('busy', (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'overloaded' } }));
    });
    const good = await serve('good', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    const res = await post([target('refused', refused, 3), target('busy', busy, 2), target('good', good, 1)], true);
    expect(res.target.channel_id).toBe('good');
    expect(await res.body.json()).toEqual({ ok: true });
    expect(seen.busy).toBe(1);
  });

  it("refuses with the upstream's own words when every channel answered with an error", async () => {
    const bad = await serve('bad', (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'messages is required', param: 'messages' } }));
    });
    await expect(post([target('bad', bad, 0)], true)).rejects.toMatchObject({ code: 'invalid_request', message: 'messages is required', param: 'messages' });
  });

  it('a body that breaks off after the headers fails the call on that channel, without trying the next', async () => {
    const cut = await serve('cut', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const spare = await serve('spare', (_req, res) => res.end('{}'));
    const res = await post([target('cut', cut, 1), target('spare', spare, 0)], true);
    expect(res.target.channel_id).toBe('cut');
    expect(res.statusCode).toBe(200);
    await expect(res.body.json()).rejects.toThrow();
    expect(seen.spare).toBeUndefined();
  });

  it('an upstream that sends no headers within UPSTREAM_TIMEOUT_MS is a timeout, and the next channel serves', async () => {
    const slow = await serve('slow', () => undefined); // never answers
    const fast = await serve('fast', (_req, res) => res.end('{"fast":1}'));
    const started = Date.now();
    const res = await post([target('slow', slow, 1), target('fast', fast, 0)], true);
    expect(res.target.channel_id).toBe('fast');
    expect(await res.body.json()).toEqual({ fast: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });
});
