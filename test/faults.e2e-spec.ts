import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OUTBOX } from '@gateway/contracts';
import Redis from 'ioredis';
import { testPrisma } from './support/db';
import { ensurePostgres, pgCtl } from './support/postgres';
import { freePort, resetTestDatabase } from './support/gateway';
import { kill9, spawnService, stop, type Service } from './support/services';

// The money path through outages, under steady load (150 calls/s, half of them streamed):
//   kill -9 of billing for 30 s, then a restart of Redis (its own, with append-only persistence, as
//   docker-compose runs it), then a restart of Postgres (the machine's own: the test brings it back
//   whatever happens). No client sees a 500; afterwards every call the upstream served is charged
//   exactly once (the mock's own log of what it served against the usage records and the ledger),
//   nothing stays held, and the books tie out.

const RATE = 150;
const ADMIN = 'faults-test-admin-token';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  tag: string;
  stream: boolean;
  status: number;
  requestId: string | null;
  complete: boolean;
  error?: string;
}

describe('settles survive billing, Redis and Postgres outages under load', () => {
  const prisma = testPrisma(2);
  const services: Service[] = [];
  const redisDir = mkdtempSync(path.join(tmpdir(), 'gw-faults-redis-'));
  let redis: ChildProcess | undefined;
  let redisPort = 0;
  let port = 0;
  let mockPort = 0;
  const prefix = `faults-${randomUUID()}:`;

  const startRedis = async () => {
    redis = spawn('redis-server', [
      '--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--daemonize', 'no',
    ], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const c = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await c.connect();
        if ((await c.ping()) === 'PONG') return;
      } catch {
        // not yet
      } finally {
        c.disconnect();
      }
      await sleep(100);
    }
    throw new Error('own redis did not start');
  };
  const stopRedis = () =>
    new Promise<void>((resolve) => {
      if (!redis || redis.exitCode !== null || redis.signalCode !== null) return resolve();
      redis.once('exit', () => resolve());
      redis.kill('SIGTERM'); // a clean shutdown: the append-only file is complete
    });

  const env = () => ({
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN: ADMIN,
    PORT: String(port),
    MOCK_PORT: String(mockPort),
    RPC_TIMEOUT_MS: '2000',
    OUTBOX_CLAIM_IDLE_MS: '2000',
    LOG_LEVEL: 'warn',
  });
  const start = async (name: string) => {
    const s = await spawnService(name, env(), /listening/);
    services.push(s);
    return s;
  };

  beforeAll(async () => {
    await ensurePostgres();
    await resetTestDatabase();
    redisPort = await freePort();
    port = await freePort();
    mockPort = await freePort();
    await startRedis();
  }, 60_000);

  afterAll(async () => {
    await ensurePostgres();
    await Promise.all(services.map((s) => stop(s)));
    await stopRedis();
    rmSync(redisDir, { recursive: true, force: true });
    await prisma.$disconnect();
  }, 90_000);

  it('kill -9 of billing for 30 s, a Redis restart and a Postgres restart: every served call charged once, no 500', async () => {
    await start('mock-upstream');
    let billing = await start('billing');
    await start('models');
    await start('ingress');
    const base = `http://127.0.0.1:${port}`;
    const mockBase = `http://127.0.0.1:${mockPort}`;
    const admin = async <T = Record<string, string>>(method: string, route: string, body?: unknown): Promise<T> => {
      const r = await fetch(`${base}${route}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      return (await r.json()) as T;
    };
    await admin('POST', '/admin/models', { id: 'fault-model', kind: 'chat', pricing: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 }, limits: { max_output_tokens: 64 } });
    await admin('POST', '/admin/channels', { name: 'mock', provider: 'openai', base_url: `${mockBase}/v1`, api_key: 'k', models: ['fault-model'] });
    const acct = await admin('POST', '/admin/accounts', { name: 'faults', credit_micros: 1_000_000_000 });
    const key = (await admin('POST', `/admin/accounts/${acct.id}/keys`, { name: 'faults', rpm: 1_000_000 })).key;

    // open-loop load: RATE calls a second whatever happens to the answers
    const sent: Sent[] = [];
    const pending = new Set<Promise<void>>();
    let n = 0;
    const one = async (): Promise<void> => {
      const tag = `fault-${n++}`;
      const stream = n % 2 === 0;
      // one call in ten is a stream of about a second, so some calls are always under way when a fault hits
      const slow = n % 10 === 0 ? ` ${'word '.repeat(20)}[[mock:chunk_delay=50]]` : '';
      const rec: Sent = { tag, stream, status: 0, requestId: null, complete: false };
      sent.push(rec);
      try {
        const r = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'fault-model', stream, messages: [{ role: 'user', content: `${tag} says hello${slow}` }] }),
          signal: AbortSignal.timeout(30_000),
        });
        rec.status = r.status;
        rec.requestId = r.headers.get('x-tt-request-id');
        const text = await r.text();
        rec.complete = r.status === 200 && (stream ? text.includes('[DONE]') : JSON.parse(text).object === 'chat.completion');
      } catch (err) {
        rec.error = (err as Error).message;
      }
    };
    let loading = true;
    const generator = (async () => {
      const t0 = Date.now();
      let issued = 0;
      while (loading) {
        const due = Math.floor(((Date.now() - t0) * RATE) / 1000);
        while (issued < due) {
          issued++;
          const p = one();
          pending.add(p);
          void p.finally(() => pending.delete(p));
        }
        await sleep(5);
      }
    })();
    const phase = (what: string) => process.stdout.write(`[faults] ${new Date().toISOString()} ${what} (${sent.length} calls sent)\n`);

    try {
      await sleep(3000);
      phase('kill -9 billing');
      await kill9(billing);
      services.splice(services.indexOf(billing), 1);
      await sleep(5000);
      // calls under way at the kill finished and were answered; their settles wait in the outbox
      const probe = new Redis(redisPort, '127.0.0.1');
      const waiting = await probe.xlen(OUTBOX.stream(prefix));
      probe.disconnect();
      phase(`${waiting} outbox entries wait for billing`);
      expect(waiting).toBeGreaterThan(0);
      await sleep(25_000);
      phase('billing back');
      billing = await start('billing');
      await sleep(5000);

      // an Idempotency-Key record written before the Redis restart is still there after it
      const idem = () =>
        fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `faults-${prefix}` },
          body: JSON.stringify({ model: 'fault-model', messages: [{ role: 'user', content: 'fault-idem says: idempotent across a Redis restart' }] }),
        });
      const first = await idem();
      expect(first.status).toBe(200);
      const firstBody = await first.text();
      sent.push({ tag: 'fault-idem', stream: false, status: 200, requestId: first.headers.get('x-tt-request-id'), complete: true });

      phase('Redis restart');
      await stopRedis();
      await startRedis();
      // right after the restart a call can get a 503 in OpenAI's shape: its key's lookup goes through Redis to
      // billing, whose consumer may still be reconnecting (seen: "billing service unavailable (keys.resolve): no
      // answer within 2000 ms"). Authentication comes before the Idempotency-Key is looked at, so a client
      // retries it, as the SDKs do, and gets the recorded response.
      let replay = await idem();
      for (let i = 0; replay.status === 503 && i < 40; i++) {
        expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('service_unavailable');
        await sleep(250);
        replay = await idem();
      }
      expect(replay.headers.get('x-tt-idempotent-replay')).toBe('true');
      expect(replay.headers.get('x-tt-request-id')).toBe(first.headers.get('x-tt-request-id'));
      expect(await replay.text()).toBe(firstBody);
      await sleep(5000);

      phase('Postgres restart');
      try {
        pgCtl('restart');
      } finally {
        await ensurePostgres();
      }
      await sleep(5000);
    } finally {
      loading = false;
      await generator;
      await Promise.all([...pending]);
    }
    phase('load stopped');

    // the outbox drains: nothing held, nothing waiting in the stream
    const r = new Redis(redisPort, '127.0.0.1');
    let held = -1;
    let backlog = -1;
    for (let i = 0; i < 240 && (held !== 0 || backlog !== 0); i++) {
      held = Number((await prisma.account.findUniqueOrThrow({ where: { id: acct.id } })).heldMicros);
      backlog = await r.xlen(OUTBOX.stream(prefix));
      if (held !== 0 || backlog !== 0) await sleep(250);
    }
    const dead = await r.xlen(OUTBOX.dead(prefix));
    r.disconnect();
    expect({ held, backlog, dead }).toEqual({ held: 0, backlog: 0, dead: 0 });

    const statuses: Record<string, number> = {};
    for (const s of sent) statuses[s.error ? `error: ${s.error}` : String(s.status)] = (statuses[String(s.error ? `error: ${s.error}` : s.status)] ?? 0) + 1;
    phase(`answers ${JSON.stringify(statuses)}`);
    // no 500 and no dropped connection: a call that could not be served got a 503 in OpenAI's shape
    expect(sent.filter((s) => s.error || (s.status !== 200 && s.status !== 503))).toEqual([]);
    expect(sent.filter((s) => s.status === 200 && !s.complete)).toEqual([]);
    // the outages did cost some calls, and most still got through
    expect(sent.filter((s) => s.status === 200).length).toBeGreaterThan(sent.length / 3);

    // what the upstream served, by its own log, against what was charged
    const log = (await (await fetch(`${mockBase}/_mock/served`)).json()) as { data: Array<{ path: string; body: string }> };
    const tags = log.data.filter((q) => q.path.startsWith('/v1/chat/completions')).map((q) => /"(fault-(?:\d+|idem)) says/.exec(q.body)?.[1]);
    expect(tags.every(Boolean)).toBe(true);
    const served = new Set(tags);
    expect(served.size).toBe(tags.length); // the gateway sent no call upstream twice
    const byTag = new Map(sent.map((s) => [s.tag, s]));
    const usage = await prisma.usageRecord.findMany({ where: { accountId: acct.id } });
    const charged = new Set(usage.map((u) => u.requestId));
    const servedIds = [...served].map((t) => byTag.get(t!)?.requestId);
    expect(servedIds.every((id) => typeof id === 'string')).toBe(true);
    expect(servedIds.filter((id) => !charged.has(id!))).toEqual([]); // every served call charged…
    expect(usage.length).toBe(served.size); // …exactly once, and nothing not served
    for (const s of sent) if (s.status === 200) expect(served.has(s.tag)).toBe(true);

    // the ledger says the same, nothing stays held, and reconciliation ties out
    const charges = await prisma.ledgerEntry.aggregate({ where: { accountId: acct.id, kind: 'charge' }, _sum: { amountMicros: true } });
    expect(-Number(charges._sum.amountMicros ?? 0n)).toBe(usage.reduce((a, u) => a + Number(u.costMicros), 0));
    expect(await prisma.hold.count({ where: { accountId: acct.id, state: 'active' } })).toBe(0);
    const settledHolds = await prisma.hold.count({ where: { accountId: acct.id, state: 'settled' } });
    expect(settledHolds).toBe(served.size);
    const rec = await admin<{ ties_out: boolean; accounts: Array<{ ties_out: boolean; open_holds_micros: number }> }>('GET', `/admin/reconciliation?account_id=${acct.id}`);
    expect(rec.ties_out).toBe(true);
    expect(rec.accounts[0].open_holds_micros).toBe(0);
    phase(`served ${served.size}, charged ${usage.length}, settled holds ${settledHolds}`);
  }, 240_000);
});
