import { newId } from '@gateway/contracts';
import { RedisRpcClient } from '@gateway/transport';
import { randomUUID } from 'node:crypto';
import { books, expectInvariants, testPrisma } from './support/db';
import { freePort, resetTestDatabase } from './support/gateway';
import { kill9, spawnService, stop, type Service } from './support/services';

// Async tasks through the started services, with the task workers as separate processes.
const PRICE = { videoPerSecond: 100_000, mjPerTask: 50_000, imagePerImage: 30_000 };
const ADMIN = 'tasks-test-admin-token';

interface Task {
  id: string;
  object: string;
  type: string;
  status: string;
  progress: number;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  cost_micros: number;
  hold_id: string;
}
interface TaskEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

describe('async tasks on a worker fleet', () => {
  const prisma = testPrisma(3);
  const prefix = `tasks-${randomUUID()}:`;
  const services: Service[] = [];
  let base = '';
  let mockBase = '';
  let key = '';
  let otherKey = '';
  let otherAccountId = '';
  let accountId = '';
  let env: Record<string, string>;

  const start = async (name: string, extra: Record<string, string> = {}) => {
    const s = await spawnService(name, { ...env, ...extra }, /listening|serving/);
    services.push(s);
    return s;
  };
  const http = async <T>(method: string, route: string, token: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const r = await fetch(`${base}${route}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, json: (await r.json()) as T };
  };
  const submit = (body: unknown, token = key) => http<Task>('POST', '/v1/tasks', token, body);
  const get = (id: string, token = key) => http<Task>('GET', `/v1/tasks/${id}`, token);
  const events = async (id: string) => (await http<{ data: TaskEvent[] }>('GET', `/v1/tasks/${id}/events`, key)).json.data;
  async function until(id: string, pred: (t: Task) => boolean, ms = 20_000): Promise<Task> {
    const end = Date.now() + ms;
    for (;;) {
      const t = (await get(id)).json;
      if (pred(t)) return t;
      if (Date.now() > end) throw new Error(`task ${id} stuck: ${JSON.stringify(t)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const final = (t: Task) => ['succeeded', 'failed', 'cancelled'].includes(t.status);
  /** A worker moves a task's money just after the task turns final: wait for that (up to 5 s). */
  async function holdResolved(holdId: string) {
    for (let i = 0; ; i++) {
      const h = await prisma.hold.findUniqueOrThrow({ where: { id: holdId } });
      if (h.state !== 'active' || i >= 200) return h;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const charges = (holdId: string) => prisma.ledgerEntry.count({ where: { holdId, kind: 'charge' } });

  beforeAll(async () => {
    await resetTestDatabase();
    const port = await freePort();
    const mockPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    mockBase = `http://127.0.0.1:${mockPort}`;
    env = {
      DATABASE_URL: process.env.DATABASE_URL as string,
      REDIS_URL: process.env.REDIS_URL as string,
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN: ADMIN,
      PORT: String(port),
      MOCK_PORT: String(mockPort),
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: '10',
      WORKER_LOCK_MS: '3000',
      WORKER_STALLED_CHECK_MS: '1000',
      POLL_MIN_MS: '100',
      POLL_MAX_MS: '300',
      REPAIR_INTERVAL_MS: '1000',
    };
    await Promise.all([start('mock-upstream'), start('billing'), start('models')]);
    await start('ingress');
    const admin = (route: string, body: unknown) => http<Record<string, string>>('POST', route, ADMIN, body);
    const models = [
      { id: 'video-x', kind: 'video', pricing: { per_second_micros: PRICE.videoPerSecond }, channel: { provider: 'openai', base_url: `${mockBase}/v1`, upstream: 'sora-2' } },
      { id: 'mj-x', kind: 'mj', pricing: { per_task_micros: PRICE.mjPerTask }, channel: { provider: 'midjourney', base_url: mockBase, upstream: 'midjourney' } },
      { id: 'image-x', kind: 'image', pricing: { per_image_micros: PRICE.imagePerImage }, channel: { provider: 'bfl', base_url: mockBase, upstream: 'flux-pro-1.1' } },
    ];
    for (const m of models) {
      expect((await admin('/admin/models', { id: m.id, kind: m.kind, pricing: m.pricing })).status).toBe(201);
      expect((await admin('/admin/channels', { name: m.id, provider: m.channel.provider, base_url: m.channel.base_url, api_key: 'upstream-secret', models: { [m.id]: m.channel.upstream } })).status).toBe(201);
    }
    accountId = (await admin('/admin/accounts', { name: 'tasks', credit_micros: 100_000_000 })).json.id;
    key = (await admin(`/admin/accounts/${accountId}/keys`, { name: 'tasks' })).json.key;
    otherAccountId = (await admin('/admin/accounts', { name: 'other', credit_micros: 1_000_000 })).json.id;
    otherKey = (await admin(`/admin/accounts/${otherAccountId}/keys`, { name: 'other' })).json.key;
  }, 90_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => stop(s)));
    await prisma.$disconnect();
  }, 30_000);

  describe('with one worker process', () => {
    let worker: Service;
    beforeAll(async () => {
      worker = await start('task-worker');
    }, 30_000);
    afterAll(() => stop(worker), 15_000);

    it.each([
      ['video', { model: 'video-x', prompt: 'a cat surfing [[mock:duration_ms=800]]', seconds: 8 }, 8 * PRICE.videoPerSecond],
      ['mj', { model: 'mj-x', prompt: 'a castle [[mock:duration_ms=800]]' }, PRICE.mjPerTask],
      ['image', { model: 'image-x', prompt: 'a lighthouse [[mock:duration_ms=800]]', n: 2 }, 2 * PRICE.imagePerImage],
    ])('a %s task goes from queued to succeeded, its events in order, charged its price once', async (type, body, price) => {
      const before = await books(prisma, accountId);
      const created = await submit(body);
      expect(created.status).toBe(202);
      expect(created.json).toMatchObject({ object: 'task', type, status: 'queued', progress: 0 });
      const done = await until(created.json.id, final);
      expect(done).toMatchObject({ status: 'succeeded', progress: 100, cost_micros: price });
      const evs = await events(done.id);
      expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
      expect(evs[0].type).toBe('queued');
      expect(evs[1].type).toBe('submitted');
      expect(evs[evs.length - 1].type).toBe('succeeded');
      const progress = evs.filter((e) => e.type === 'progress').map((e) => e.data.progress as number);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      await holdResolved(done.hold_id);
      const after = await books(prisma, accountId);
      expect(before.balance - after.balance).toBe(price);
      expect(after.held).toBe(before.held);
      expect(await charges(done.hold_id)).toBe(1);
      expectInvariants(after);
      if (type === 'video') {
        const content = await fetch(`${base}/v1/tasks/${done.id}/content`, { headers: { authorization: `Bearer ${key}` } });
        expect(content.headers.get('content-type')).toContain('video/mp4');
        expect(Buffer.from(await content.arrayBuffer()).toString('ascii', 4, 8)).toBe('ftyp');
      }
      if (type === 'mj') {
        expect(done.result).toMatchObject({ image_url: expect.stringContaining('/_mock/files/') });
        const up = await submit({ model: 'mj-x', action: 'upscale', task_id: done.id, index: 2 });
        expect(up.status).toBe(202);
        expect(await until(up.json.id, final)).toMatchObject({ status: 'succeeded', cost_micros: PRICE.mjPerTask });
      }
      if (type === 'image') expect((done.result as { images: unknown[] }).images).toHaveLength(2);
    });

    it('an upstream failure ends in failed, the hold released, nothing charged', async () => {
      const before = await books(prisma, accountId);
      const t = (await submit({ model: 'video-x', prompt: 'doomed [[mock:duration_ms=400]] [[mock:fail=1]]' })).json;
      const done = await until(t.id, final);
      expect(done).toMatchObject({ status: 'failed', cost_micros: 0, error: { code: 'upstream_failed' } });
      expect(await holdResolved(t.hold_id)).toMatchObject({ state: 'released' });
      expect((await books(prisma, accountId)).balance).toBe(before.balance);
      expect((await events(t.id)).pop()!.type).toBe('failed');
    });

    it('transient upstream errors are retried; a refused submission fails uncharged', async () => {
      const flaky = (await submit({ model: 'image-x', prompt: 'flaky [[mock:duration_ms=300]] [[mock:flaky=3]]' })).json;
      expect(await until(flaky.id, final)).toMatchObject({ status: 'succeeded' });
      const refused = (await submit({ model: 'mj-x', prompt: 'no [[mock:submit_status=400]]' })).json;
      expect(await until(refused.id, final)).toMatchObject({ status: 'failed', error: { code: 'upstream_rejected' } });
      expect(await holdResolved(refused.hold_id)).toMatchObject({ state: 'released' });
    });

    it('cancel of a running slow task ends in cancelled, released, and cancels upstream', async () => {
      const before = await books(prisma, accountId);
      const t = (await submit({ model: 'video-x', prompt: 'very slow [[mock:duration_ms=60000]]' })).json;
      await until(t.id, (x) => x.status === 'running' && x.progress > 0);
      const cancelled = await http<Task>('POST', `/v1/tasks/${t.id}/cancel`, key);
      expect(cancelled.status).toBe(200);
      expect(cancelled.json.status).toBe('cancelled');
      expect(await holdResolved(t.hold_id)).toMatchObject({ state: 'released' });
      expect((await books(prisma, accountId)).balance).toBe(before.balance);
      // the worker notices and deletes the upstream video
      const upstreamId = (await prisma.task.findUniqueOrThrow({ where: { id: t.id } })).upstreamId;
      const end = Date.now() + 5000;
      let gone = false;
      while (!gone && Date.now() < end) {
        gone = (await fetch(`${mockBase}/v1/videos/${upstreamId}`, { headers: { authorization: 'Bearer x' } })).status === 404;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(gone).toBe(true);
      const again = await http<{ error: { message: string } }>('POST', `/v1/tasks/${t.id}/cancel`, key);
      expect(again.status).toBe(400);
      expect((await get(t.id)).json.status).toBe('cancelled');
    });

    it('events stream as SSE until the final one', async () => {
      const t = (await submit({ model: 'mj-x', prompt: 'streamed [[mock:duration_ms=600]]' })).json;
      const res = await fetch(`${base}/v1/tasks/${t.id}/events`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      // checked against the key's limits, not counted: the stream's head says where the key stands
      expect(Number(res.headers.get('x-ratelimit-limit-requests'))).toBeGreaterThan(0);
      const text = await res.text(); // ends when the task does
      const types = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
      expect(types[0]).toBe('queued');
      expect(types[types.length - 1]).toBe('succeeded');
    });

    it("another account's key gets 404 for the task", async () => {
      const t = (await submit({ model: 'mj-x', prompt: 'mine [[mock:duration_ms=300]]' })).json;
      expect((await get(t.id, otherKey)).status).toBe(404);
      expect((await http('GET', `/v1/tasks/${t.id}/events`, otherKey)).status).toBe(404);
      expect((await http('POST', `/v1/tasks/${t.id}/cancel`, otherKey)).status).toBe(404);
      expect((await get('task_nope')).status).toBe(404);
    });

    it('bad input is a 400 naming the field; ops see queue counts', async () => {
      const bad = await submit({ model: 'video-x', prompt: 'x', seconds: 5 });
      expect(bad.status).toBe(400);
      expect((bad.json as unknown as { error: { param: string } }).error.param).toBe('seconds');
      const noParent = await submit({ model: 'mj-x', action: 'upscale', index: 1 });
      expect((noParent.json as unknown as { error: { param: string } }).error.param).toBe('task_id');
      const q = await http<{ data: Array<{ queue: string; completed: number }> }>('GET', '/admin/queues', ADMIN);
      expect(q.json.data.map((x) => x.queue).sort()).toEqual(['tasks-image', 'tasks-mj', 'tasks-video']);
      expect(q.json.data.find((x) => x.queue === 'tasks-video')!.completed).toBeGreaterThan(0);
    });
  });

  it('two workers share 50 tasks; kill -9 of one mid-job, and every task still ends, charged at most once', async () => {
    const a = await start('task-worker');
    const b = await start('task-worker');
    const before = await books(prisma, accountId);
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) => submit({ model: i % 2 ? 'mj-x' : 'image-x', prompt: `fleet ${i} [[mock:duration_ms=2500]]` })),
    );
    const refused = created.filter((c) => c.status !== 202).map((c) => JSON.stringify(c.json));
    // an unexpected failure's cause is in ingress's log under the request id its answer names
    const ingressErrors = refused.length ? services.filter((s) => s.name === 'ingress').flatMap((s) => s.output.filter((l) => /"level":"(error|warn)"/.test(l))) : [];
    expect({ refused, ingressErrors }).toEqual({ refused: [], ingressErrors: [] });
    const ids = created.map((c) => c.json.id);
    // let both take jobs, then kill one while its jobs are mid-flight
    await new Promise((r) => setTimeout(r, 1200));
    await kill9(a);
    const done = await Promise.all(ids.map((id) => until(id, final, 60_000)));
    expect(done.every((t) => t.status === 'succeeded')).toBe(true);
    const workers = new Set<string>();
    let resumed = 0;
    for (const id of ids) {
      for (const e of await events(id)) {
        if (e.type === 'submitted' || e.type === 'resumed') workers.add(String(e.data.worker));
        if (e.type === 'resumed') resumed++;
      }
    }
    expect(workers.size).toBeGreaterThanOrEqual(2);
    expect(resumed).toBeGreaterThan(0);
    for (const t of done) expect(await charges(t.hold_id)).toBe(1);
    const expected = done.reduce((n, t) => n + t.cost_micros, 0);
    const after = await books(prisma, accountId);
    expect(before.balance - after.balance).toBe(expected);
    expect(after.held).toBe(before.held);
    expectInvariants(after);
    await stop(b);
  }, 90_000);

  it('a worker repairs when it starts, not a repair interval later: an orphaned task hold is released at once', async () => {
    // a lost reply: the task hold was placed (long ago) and no task row was ever written
    const holdId = newId('hold');
    const [placed] = await prisma.$queryRaw<Array<{ status: string }>>`
      SELECT status FROM gw_place_hold(${holdId}, ${otherAccountId}, NULL, ${newId('req')}, 'task'::hold_kind, 'video-x', ${BigInt(4321)}, ${BigInt(90 * 60_000)})`;
    expect(placed.status).toBe('ok');
    await prisma.$executeRaw`UPDATE holds SET created_at = created_at - interval '1 hour' WHERE id = ${holdId}`;
    // no worker runs now (the ones above are stopped or killed), and this one's next interval is ten minutes away
    const started = Date.now();
    const w = await start('task-worker', { REPAIR_INTERVAL_MS: '600000', TASK_HOLD_ORPHAN_MS: '60000' });
    try {
      const h = await holdResolved(holdId);
      expect({ state: h.state, withinMs: Date.now() - started < 20_000 }).toEqual({ state: 'released', withinMs: true });
      const events = await prisma.holdEvent.findMany({ where: { holdId }, orderBy: { id: 'asc' } });
      expect(events.at(-1)).toMatchObject({ state: 'released', reason: 'orphaned task hold', amountMicros: 4321n });
      const b = await books(prisma, otherAccountId);
      expect(b.held).toBe(0);
      expectInvariants(b);
    } finally {
      await stop(w);
    }
  }, 60_000);

  it('the books tie out after all of it', async () => {
    const rpc = new RedisRpcClient({ redisUrl: process.env.REDIS_URL as string, prefix, service: 'billing', timeoutMs: 5000 });
    await rpc.connect();
    const report = await rpc.call('reports.reconciliation', { from: new Date(0).toISOString(), to: new Date(Date.now() + 1000).toISOString() });
    await rpc.close();
    expect(report.ties_out).toBe(true);
  });
});
