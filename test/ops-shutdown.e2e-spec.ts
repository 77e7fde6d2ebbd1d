import { randomUUID } from 'node:crypto';
import { books, testPrisma, usageRecordOf } from './support/db';
import { freePort, resetTestDatabase } from './support/gateway';
import { readToEnd, spawnService, stop, type Service } from './support/services';

// SIGTERM to ingress during a streamed call: the stream runs to its end ([DONE]), a call that arrives
// while it drains is refused (a 503 with Retry-After, or the connection), ingress exits within its grace
// period, and the call is charged (its usage record, cost > 0) with nothing left held.

const ADMIN = 'shutdown-test-admin-token';
const GRACE_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('graceful shutdown of ingress', () => {
  const prisma = testPrisma(2);
  const services: Service[] = [];
  let port = 0;
  let mockPort = 0;
  const prefix = `shutdown-${randomUUID()}:`;
  const env = () => ({
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: process.env.REDIS_URL as string,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN: ADMIN,
    PORT: String(port),
    MOCK_PORT: String(mockPort),
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
  });
  const start = async (name: string) => {
    const s = await spawnService(name, env(), /listening/);
    services.push(s);
    return s;
  };

  beforeAll(async () => {
    await resetTestDatabase();
    port = await freePort();
    mockPort = await freePort();
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => stop(s)));
    await prisma.$disconnect();
  }, 30_000);

  it('drains a running stream, refuses new calls, exits in time, and the call is charged', async () => {
    await start('mock-upstream');
    await start('billing');
    await start('models');
    const ingress = await start('ingress');
    const base = `http://127.0.0.1:${port}`;
    const admin = async <T = Record<string, string>>(method: string, route: string, body?: unknown): Promise<T> => {
      const r = await fetch(`${base}${route}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      return (await r.json()) as T;
    };
    await admin('POST', '/admin/models', { id: 'drain-model', kind: 'chat', pricing: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 }, limits: { max_output_tokens: 64 } });
    await admin('POST', '/admin/channels', { name: 'mock', provider: 'openai', base_url: `http://127.0.0.1:${mockPort}/v1`, api_key: 'k', models: ['drain-model'] });
    const acct = await admin<{ id: string }>('POST', '/admin/accounts', { name: 'drain', credit_micros: 10_000_000 });
    const key = await admin<{ key: string }>('POST', `/admin/accounts/${acct.id}/keys`, { name: 'drain' });
    const call = (body: unknown) =>
      fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    // ten words, 200 ms apart: about two seconds of stream
    const res = await call({
      model: 'drain-model',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: '[[mock:chunk_delay=200]] [[mock:reply=one two three four five six seven eight nine ten]]' }],
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-tt-request-id')!;
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);

    const exited = new Promise<{ code: number | null; at: number }>((resolve) => ingress.child.once('exit', (code) => resolve({ code, at: Date.now() })));
    const termAt = Date.now();
    ingress.child.kill('SIGTERM');
    await sleep(200);

    // a new call while draining: a 503 in OpenAI's shape with Retry-After, or no connection at all
    let refused: string;
    try {
      const r = await call({ model: 'drain-model', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBeTruthy();
      const body = (await r.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/shutting down/);
      refused = '503';
    } catch (err) {
      refused = `connection: ${(err as Error).message}`;
    }
    expect(refused).toBeTruthy();

    // the running stream finishes
    const text = first + (await readToEnd(reader));
    expect(text).toContain('ten');
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    expect(Date.now() - termAt).toBeGreaterThan(1000); // it really was mid-stream

    const { code, at } = await exited;
    expect(code).toBe(0);
    expect(at - termAt).toBeLessThan(GRACE_MS);
    expect(ingress.output.some((l) => l.includes('shutdown: draining'))).toBe(true);

    // charged: billing applies the settle the drained ingress flushed to the outbox; nothing stays held
    const usage = await usageRecordOf(prisma, requestId);
    expect(usage).not.toBeNull();
    expect(Number(usage!.costMicros)).toBeGreaterThan(0);
    expect(usage!.outputTokens).toBeGreaterThan(0);
    const b = await books(prisma, acct.id);
    expect(b.activeHolds).toBe(0);
    expect(b.held).toBe(0);
    expect(b.balance).toBe(10_000_000 - Number(usage!.costMicros));
  }, 90_000);
});
