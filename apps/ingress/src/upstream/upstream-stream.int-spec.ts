import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteTarget } from '@gateway/contracts';
import type { UpstreamResponse } from './upstream.client';
import { upstreamTestBed } from '../../../../test/support/upstream-test-bed';

// A streamed answer is read through undici's dispatch feeding the client's own body queue (no Readable
// stream between). Against real HTTP servers: chunks come as they are sent, the connection is paused while
// the reader lags (no unbounded buffering), a reader that stops early or a client that goes away aborts the
// request, and a body that breaks off fails the read after the chunks that came.
describe('UpstreamClient: answers read as they stream (real HTTP)', () => {
  const bed = upstreamTestBed('stream-test', 5000);
  const client = bed.client;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const serve = async (handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<RouteTarget> => {
    const base = await bed.listen((req, res) => handle(req, res));
    return { channel_id: 's', provider: 'openai', base_url: base, api_key: 'k', upstream_model: 'm', priority: 0, weight: 1 };
  };
  const post = (t: RouteTarget, signal = new AbortController().signal): Promise<UpstreamResponse> =>
    client.postTiers([[t]], () => ({ path: '/chat/completions', headers: { 'content-type': 'application/json' }, body: '{"stream":true}' }), signal, { whole: false });

  afterAll(() => bed.close());

  it('gives each chunk as it comes, before the upstream has finished', async () => {
    // The upstream holds its end back until the reader has seen the first chunk (or 5 s pass): no clock
    // comparison, so a slow machine cannot fail it; a client that buffered to the end would only get
    // the first chunk after the 5 s fallback, and then `seenBeforeEnd` is false.
    let sawFirst!: () => void;
    const firstRead = new Promise<void>((r) => (sawFirst = r));
    let seenBeforeEnd = false;
    const t = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      const fallback = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
      void Promise.race([firstRead.then(() => 'read' as const), fallback]).then((how) => {
        seenBeforeEnd = how === 'read';
        res.write('data: 2\n\n');
        res.end('data: [DONE]\n\n');
      });
    });
    const res = await post(t);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const got: string[] = [];
    for await (const c of res.body) {
      got.push(c.toString());
      if (got.length === 1) sawFirst();
    }
    expect(got.join('')).toBe('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
    expect(got[0]).toBe('data: 1\n\n');
    expect(seenBeforeEnd).toBe(true); // read while the upstream was still sending
  }, 15_000);

  it('pauses the upstream while the reader lags, then gives every byte in order', async () => {
    const total = 48 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024);
    let written = 0;
    let writtenAt300 = -1;
    const t = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      setTimeout(() => (writtenAt300 = written), 300);
      const pump = () => {
        while (written < total) {
          piece.fill(written / piece.length % 251);
          written += piece.length;
          if (!res.write(Buffer.from(piece))) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const res = await post(t);
    await sleep(400); // nothing read yet: the upstream must have been held back (socket buffers, not all 48 MB)
    expect(writtenAt300).toBeGreaterThan(0);
    expect(writtenAt300).toBeLessThan(total / 2);
    let n = 0;
    let inOrder = true;
    for await (const c of res.body) {
      for (let i = 0; i < c.length; i += 4096) if (c[i] !== Math.floor((n + i) / piece.length) % 251) inOrder = false;
      n += c.length;
    }
    expect(n).toBe(total);
    expect(inOrder).toBe(true);
  }, 30_000);

  it('a reader that stops early aborts the request: the upstream sees its connection close', async () => {
    let closedEarly: Promise<boolean> = Promise.resolve(false);
    const t = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('data: tick\n\n'), 20);
      closedEarly = new Promise((r) => res.on('close', () => (clearInterval(timer), r(!res.writableFinished))));
    });
    const res = await post(t);
    for await (const c of res.body) {
      expect(c.toString()).toContain('tick');
      break;
    }
    expect(await closedEarly).toBe(true);
  });

  it('a client gone (its signal aborted) mid-stream: the read fails and the upstream connection closes', async () => {
    let closed: Promise<void> = Promise.resolve();
    const t = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('data: tick\n\n'), 20);
      closed = new Promise((r) => res.on('close', () => (clearInterval(timer), r())));
    });
    const abort = new AbortController();
    const res = await post(t, abort.signal);
    setTimeout(() => abort.abort(), 100);
    let chunks = 0;
    await expect(
      (async () => {
        for await (const _ of res.body) chunks++;
      })(),
    ).rejects.toThrow();
    expect(chunks).toBeGreaterThan(0);
    await closed;
  });

  it('a body that breaks off mid-stream fails the read after the chunks that came', async () => {
    const t = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const res = await post(t);
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const c of res.body) got.push(c.toString());
      })(),
    ).rejects.toThrow();
    expect(got.join('')).toBe('data: 1\n\n');
  });

  it("an error status's body is read whole for its message, and the call fails with the upstream's words", async () => {
    const t = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.write('{"error":{"message":"bad ');
      setTimeout(() => res.end('stream","param":"stream"}}'), 20);
    });
    await expect(post(t)).rejects.toMatchObject({ code: 'invalid_request', message: 'bad stream', param: 'stream' });
  });
});
