import { OUTBOX, SERVICES, newId } from '@gateway/contracts';
import { RedisRpcClient } from '@gateway/transport';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { books, expectInvariants, testPrisma } from './support/db';
import { freePort, resetTestDatabase } from './support/gateway';
import { spawnService, stop, type Service } from './support/services';

// The money path's edges, against the real services: a hold lives as long as its call (a stream longer
// than the hold's TTL is charged in full, whether its hold was kept alive or expired under it), and
// neither a duplicated place message nor a replayed settle changes anything.

const ADMIN = 'money-path-admin-token';
const PRICE = { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 3_000_000 };
const cost = (u: { prompt_tokens: number; completion_tokens: number }) => Math.ceil((u.prompt_tokens * PRICE.input_per_mtok_micros + u.completion_tokens * PRICE.output_per_mtok_micros) / 1_000_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the money path at its edges', () => {
  const prisma = testPrisma(2);
  const prefix = `money-${randomUUID()}:`;
  const services: Service[] = [];
  let port = 0;
  let lapsePort = 0;
  let mockPort = 0;
  let key = '';
  let accountId = '';
  let redis: Redis;
  let rpc: RedisRpcClient;

  const base = (p: number) => `http://127.0.0.1:${p}`;
  const env = (extra: Record<string, string> = {}) => ({
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: process.env.REDIS_URL as string,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN: ADMIN,
    PORT: String(port),
    MOCK_PORT: String(mockPort),
    // holds live 2 s unless their call keeps them alive (extended every 250 ms); the sweeper looks every 100 ms
    HOLD_TTL_MS: '2000',
    SWEEP_INTERVAL_MS: '100',
    HOLD_EXTEND_INTERVAL_MS: '250',
    LOG_LEVEL: 'warn',
    ...extra,
  });

  const admin = async <T = Record<string, string>>(method: string, route: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${base(port)}${route}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return (await r.json()) as T;
  };

  beforeAll(async () => {
    await resetTestDatabase();
    port = await freePort();
    lapsePort = await freePort();
    mockPort = await freePort();
    for (const name of ['mock-upstream', 'billing', 'models', 'ingress']) services.push(await spawnService(name, env(), /listening/));
    // a second ingress that never extends its calls' holds: they expire under a long stream
    services.push(await spawnService('ingress', env({ PORT: String(lapsePort), HOLD_EXTEND_INTERVAL_MS: '3600000' }), /listening/));
    await admin('POST', '/admin/models', { id: 'edge-model', kind: 'chat', pricing: PRICE, limits: { max_output_tokens: 100 } });
    await admin('POST', '/admin/channels', { name: 'mock', provider: 'openai', base_url: `${base(mockPort)}/v1`, api_key: 'k', models: ['edge-model'] });
    accountId = (await admin('POST', '/admin/accounts', { name: 'edges', credit_micros: 10_000_000 })).id;
    key = (await admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'edges' })).key;
    redis = new Redis(process.env.REDIS_URL as string);
    rpc = new RedisRpcClient({ redisUrl: process.env.REDIS_URL as string, prefix, service: SERVICES.billing, timeoutMs: 5000 });
    await rpc.connect();
  }, 120_000);

  afterAll(async () => {
    await rpc?.close();
    redis?.disconnect();
    await Promise.all(services.map((s) => stop(s)));
    await prisma.$disconnect();
  }, 30_000);

  const settled = async () => {
    for (let i = 0; i < 200; i++) {
      const b = await books(prisma, accountId);
      if (b.held === 0) return b;
      await sleep(50);
    }
    return books(prisma, accountId);
  };

  /** A stream of 30 words, one every 200 ms: three times the hold's TTL. */
  const longStream = async (p: number) => {
    const words = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');
    const r = await fetch(`${base(p)}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'edge-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `go [[mock:reply=${words}]] [[mock:chunk_delay=200]]` }] }),
    });
    expect(r.status).toBe(200);
    const holdId = r.headers.get('x-tt-hold-id')!;
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    const statesSeen = new Set<string>();
    let last = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
      if (Date.now() - last > 200) {
        last = Date.now();
        statesSeen.add((await prisma.hold.findUniqueOrThrow({ where: { id: holdId } })).state);
      }
    }
    const usageLine = text.split('\n').filter((l) => l.startsWith('data: {') && l.includes('"usage":{')).at(-1)!;
    const usage = JSON.parse(usageLine.slice(6)).usage as { prompt_tokens: number; completion_tokens: number };
    return { holdId, usage, statesSeen, text };
  };

  it('a stream three times longer than the hold TTL keeps its hold and is charged in full', async () => {
    const before = await settled();
    const { holdId, usage, statesSeen } = await longStream(port);
    expect(usage.completion_tokens).toBe(30);
    // checked every 200 ms over 6 s: the hold never expired under the call (the last reads may already see
    // it settled: the stream's final frames go out once the settle is handed to the outbox)
    expect(statesSeen.has('active')).toBe(true);
    expect(statesSeen.has('expired')).toBe(false);
    const after = await settled();
    expect(before.balance - after.balance).toBe(cost(usage));
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: holdId }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(hold.state).toBe('settled');
    expect(hold.events.map((e) => e.state)).toEqual(['active', 'settled']);
    expectInvariants(after);
  }, 30_000);

  it('a hold that expired under a long call (no extension) is still charged in full by the late settle', async () => {
    const before = await settled();
    const { holdId, usage, statesSeen } = await longStream(lapsePort);
    expect(statesSeen.has('expired')).toBe(true); // the sweeper did expire it mid-stream
    // nothing is held any more (the expiry gave it back), so wait for the settle itself
    for (let i = 0; i < 200 && (await prisma.hold.findUniqueOrThrow({ where: { id: holdId } })).state !== 'settled'; i++) await sleep(50);
    const after = await settled();
    expect(before.balance - after.balance).toBe(cost(usage));
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: holdId }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(hold.state).toBe('settled');
    expect(hold.events.map((e) => [e.state, e.reason])).toEqual([
      ['active', null],
      ['expired', 'deadline passed'],
      ['settled', 'late settle after expiry'],
    ]);
    expectInvariants(after);
  }, 30_000);

  it('a duplicated place message gives one hold; a replayed settle changes nothing', async () => {
    const before = await settled();
    const holdId = newId('hold');
    const place = { hold_id: holdId, account_id: accountId, key_id: null, request_id: newId('req'), model: 'edge-model', amount_micros: 5000 };
    // the same place three ways at once: twice alone, and twice inside one batch message
    const [a, b, many] = await Promise.all([rpc.call('holds.place', place), rpc.call('holds.place', place), rpc.call('holds.placeMany', { items: [place, place] })]);
    expect([a.hold_id, b.hold_id, many[0].ok?.hold_id, many[1].ok?.hold_id]).toEqual([holdId, holdId, holdId, holdId]);
    expect(await prisma.hold.count({ where: { id: holdId } })).toBe(1);
    expect((await books(prisma, accountId)).held).toBe(5000);

    // the settle, as ingress appends it to the outbox, then the same entry replayed twice
    const usage = { request_id: place.request_id, account_id: accountId, key_id: null, model: 'edge-model', channel_id: null, tokens: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 20, reasoning_tokens: 0 } };
    const entry = JSON.stringify([{ op: 'settle', hold_id: holdId, cost_micros: 1234, usage }]);
    await redis.xadd(OUTBOX.stream(prefix), '*', 'm', entry);
    const once = await settled();
    expect(before.balance - once.balance).toBe(1234);
    await redis.xadd(OUTBOX.stream(prefix), '*', 'm', entry);
    await redis.xadd(OUTBOX.stream(prefix), '*', 'm', entry);
    // and a replayed place after the settle
    await rpc.call('holds.place', place);
    for (let i = 0; i < 100 && (await redis.xlen(OUTBOX.stream(prefix))) > 0; i++) await sleep(50);
    expect(await redis.xlen(OUTBOX.stream(prefix))).toBe(0);
    const after = await books(prisma, accountId);
    expect(after).toMatchObject({ balance: once.balance, held: 0 });
    expect(await prisma.ledgerEntry.count({ where: { holdId } })).toBe(1);
    expect(await prisma.usageRecord.count({ where: { requestId: place.request_id } })).toBe(1);
    expect(await prisma.holdEvent.count({ where: { holdId } })).toBe(2);
    expectInvariants(after);
  }, 30_000);
});
