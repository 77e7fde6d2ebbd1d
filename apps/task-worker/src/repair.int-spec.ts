import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { billingConfigSchema, parseConfig, workerConfigSchema } from '@gateway/config';
import { newId, SERVICES } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { bullConnection, bullPrefix, QUEUE_OF, TaskProducer, TaskRepository, type TaskType } from '@gateway/tasks';
import { RedisRpcClient } from '@gateway/transport';
import { Queue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { startBilling } from '../../billing/src/bootstrap';
import { books, expectInvariants, makeAccount, testPrisma } from '../../../test/support/db';
import { RepairLoop } from './repair';
import { TaskRunner } from './task-runner';

// The repair loop against the real Postgres, Redis, BullMQ and billing service (over its RPC transport):
// each way a task hold can outlive its task is set up for real, and a repair pass must resolve it, once,
// however many passes run at the same time.

const REDIS_URL = process.env.REDIS_URL as string;
const ORPHAN_MS = 120_000;

describe('task repair loop against Postgres, Redis, BullMQ and billing', () => {
  const prefix = `test-repair-${randomUUID()}:`;
  let prisma: PrismaClient;
  let tasks: TaskRepository;
  let producer: TaskProducer;
  let billingServer: INestMicroservice;
  let billing: RedisRpcClient;
  let repair: RepairLoop;
  const queues: Queue[] = [];

  beforeAll(async () => {
    prisma = testPrisma(10);
    tasks = new TaskRepository(prisma);
    producer = new TaskProducer(REDIS_URL, prefix);
    billingServer = await startBilling(
      parseConfig(billingConfigSchema, { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL, REDIS_PREFIX: prefix, SWEEP_INTERVAL_MS: '0', OUTBOX_CONSUMER: 'off', LOG_LEVEL: 'error' }),
    );
    billing = new RedisRpcClient({ redisUrl: REDIS_URL, prefix, service: SERVICES.billing, timeoutMs: 5000 });
    await billing.connect();
    repair = new RepairLoop(tasks, producer, billing, { orphanHoldMs: ORPHAN_MS });
  });

  afterAll(async () => {
    for (const q of queues) {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
    await producer?.close();
    await billing?.close();
    await billingServer?.close();
    await prisma?.$disconnect();
  });

  /** a queue of this test's own prefix, for what the producer does not do (failing jobs, cleaning up) */
  function queue(type: TaskType): Queue {
    const q = new Queue(QUEUE_OF[type], { connection: bullConnection(REDIS_URL), prefix: bullPrefix(prefix) });
    queues.push(q);
    return q;
  }

  /** a task hold as ingress places it (gw_place_hold, kind task), optionally placed `agoMs` in the past */
  async function placeTaskHold(accountId: string, amount: number, agoMs = 0): Promise<string> {
    const id = newId('hold');
    const [r] = await prisma.$queryRaw<Array<{ status: string }>>`
      SELECT status FROM gw_place_hold(${id}, ${accountId}, NULL, ${newId('req')}, 'task'::hold_kind, 'video-model', ${BigInt(amount)}, ${BigInt(90 * 60_000)})`;
    expect(r.status).toBe('ok');
    if (agoMs) await prisma.$executeRaw`UPDATE holds SET created_at = created_at - make_interval(secs => ${agoMs}::float8 / 1000) WHERE id = ${id}`;
    return id;
  }

  /** hold plus task row, as POST /v1/tasks writes them */
  async function createTask(accountId: string, amount: number, opts: { type?: TaskType; deadlineAt?: Date; agoMs?: number } = {}) {
    const holdId = await placeTaskHold(accountId, amount, opts.agoMs);
    const id = newId('task');
    await tasks.create({ id, accountId, keyId: null, type: opts.type ?? 'video', model: 'video-model', input: { prompt: 'p', seconds: 4 }, holdId, deadlineAt: opts.deadlineAt ?? new Date(Date.now() + 30 * 60_000) });
    return { id, holdId };
  }

  async function hold(id: string) {
    return prisma.hold.findUniqueOrThrow({ where: { id }, include: { events: { orderBy: { id: 'asc' } } } });
  }

  /** the hold's resolving events: exactly one when it resolved once */
  async function resolutions(id: string) {
    return (await hold(id)).events.filter((e) => e.state !== 'active');
  }

  async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('(a) releases an active task hold no task row points at, once it is older than the grace period', async () => {
    const acct = await makeAccount(prisma, 10_000);
    const orphan = await placeTaskHold(acct, 700, ORPHAN_MS + 60_000); // a lost reply: hold placed, task never written
    const young = await placeTaskHold(acct, 300); // ingress may still be writing its task
    const live = await createTask(acct, 500, { agoMs: ORPHAN_MS + 60_000 }); // old, but its task exists

    const r = await repair.once();

    expect(r.orphansReleased).toBeGreaterThanOrEqual(1);
    expect(await resolutions(orphan)).toMatchObject([{ state: 'released', reason: 'orphaned task hold', amountMicros: 700n }]);
    expect((await hold(young)).state).toBe('active');
    expect((await hold(live.holdId)).state).toBe('active');
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 10_000, held: 800 });
    expectInvariants(b);
  });

  it('(b) settles the hold of a succeeded task and releases that of a cancelled one when the money step was lost', async () => {
    const acct = await makeAccount(prisma, 10_000);
    const done = await createTask(acct, 1000);
    const cancelled = await createTask(acct, 400);
    // the transitions happened, the process died before billing
    expect(await tasks.transition(done.id, { from: ['queued'], to: 'succeeded', event: 'succeeded', costMicros: 600, progress: 100 })).toBe(true);
    expect(await tasks.transition(cancelled.id, { from: ['queued'], to: 'cancelled', event: 'cancelled' })).toBe(true);

    const r = await repair.once();

    expect(r.holdsFixed).toBeGreaterThanOrEqual(2);
    expect(await resolutions(done.holdId)).toMatchObject([{ state: 'settled', amountMicros: 600n }]);
    expect(await resolutions(cancelled.holdId)).toMatchObject([{ state: 'released', reason: 'task cancelled' }]);
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 9400, held: 0 });
    expectInvariants(b);
    // nothing left to do for these: a second pass changes nothing
    await repair.once();
    expect(await resolutions(done.holdId)).toHaveLength(1);
    expect(await prisma.ledgerEntry.count({ where: { holdId: done.holdId } })).toBe(1);
  });

  it('(c) fails a task whose job failed for good in BullMQ and releases its hold; a job with attempts left is left alone', async () => {
    const acct = await makeAccount(prisma, 10_000);
    const exhausted = await createTask(acct, 800, { type: 'image' });
    const retrying = await createTask(acct, 200, { type: 'image' });
    const q = queue('image');
    // the producer's own job name and data; fewer attempts and a short backoff so they run out quickly
    await q.add('image', { task_id: exhausted.id }, { jobId: exhausted.id, attempts: 2, backoff: { type: 'fixed', delay: 20 } });
    await q.add('image', { task_id: retrying.id }, { jobId: retrying.id, attempts: 3, backoff: { type: 'fixed', delay: 600_000 } });
    // every attempt throws before the task is touched (billing or models unreachable, the database gone…)
    const worker = new Worker(QUEUE_OF.image, async () => Promise.reject(new Error('models service unavailable')), { connection: bullConnection(REDIS_URL), prefix: bullPrefix(prefix), concurrency: 2 });
    try {
      await waitFor('the job to fail for good', async () => (await producer.jobState('image', exhausted.id)) === 'failed');
      await waitFor('the other job to wait for its retry', async () => (await producer.jobState('image', retrying.id)) === 'delayed');
    } finally {
      await worker.close();
    }
    expect((await q.getJob(exhausted.id))!.attemptsMade).toBe(2);
    expect((await tasks.find(exhausted.id))!.status).toBe('queued');

    const r = await repair.once();

    expect(r.jobsFailed).toBe(1);
    const failed = (await tasks.find(exhausted.id))!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'job_failed' });
    expect((failed.error as { message: string }).message).toContain('models service unavailable');
    expect((await tasks.events(exhausted.id)).map((e) => e.type)).toEqual(['queued', 'failed']);
    expect(await resolutions(exhausted.holdId)).toMatchObject([{ state: 'released', reason: 'task job_failed' }]);
    expect((await tasks.find(retrying.id))!.status).toBe('queued');
    expect((await hold(retrying.holdId)).state).toBe('active');
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 10_000, held: 200 });
    expectInvariants(b);
  }, 30_000);

  it('(d) fails a task past its deadline whose job is gone, and leaves one whose job still waits to the runner', async () => {
    const acct = await makeAccount(prisma, 10_000);
    const past = new Date(Date.now() - 60_000);
    const gone = await createTask(acct, 900, { type: 'mj', deadlineAt: past }); // its job was lost (or removed)
    const waiting = await createTask(acct, 100, { type: 'video', deadlineAt: past }); // its job is queued, no worker took it yet
    queue('mj'); // for the clean-up
    queue('video');
    await producer.enqueue('video', waiting.id);

    const r = await repair.once();

    expect(r.deadlinesFailed).toBeGreaterThanOrEqual(1);
    const failed = (await tasks.find(gone.id))!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'deadline_exceeded' });
    expect(await resolutions(gone.holdId)).toMatchObject([{ state: 'released', reason: 'task deadline_exceeded' }]);
    expect(await producer.hasJob('mj', gone.id)).toBe(false); // failed, not enqueued again
    expect((await tasks.find(waiting.id))!.status).toBe('queued');
    expect((await hold(waiting.holdId)).state).toBe('active');
    expect(await books(prisma, acct)).toMatchObject({ balance: 10_000, held: 100 });

    // the runner that takes the late job fails it before submitting anything upstream
    const models = new RedisRpcClient({ redisUrl: REDIS_URL, prefix, service: SERVICES.models, timeoutMs: 500 });
    await models.connect();
    try {
      await new TaskRunner({ tasks, billing, models, config: parseConfig(workerConfigSchema, {}) }).run(waiting.id, false);
    } finally {
      await models.close();
    }
    expect((await tasks.find(waiting.id))!.error).toMatchObject({ code: 'deadline_exceeded' });
    expect(await resolutions(waiting.holdId)).toMatchObject([{ state: 'released', reason: 'task deadline_exceeded' }]);
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 10_000, held: 0 });
    expectInvariants(b);
  });

  it('two repair loops at once resolve every hold exactly once, and balance = ledger afterwards', async () => {
    const acct = await makeAccount(prisma, 1_000_000);
    const n = 12;
    const orphans = await Promise.all(Array.from({ length: n }, () => placeTaskHold(acct, 1000, ORPHAN_MS + 60_000)));
    const succeeded = await Promise.all(Array.from({ length: n }, () => createTask(acct, 2000)));
    const cancelled = await Promise.all(Array.from({ length: n }, () => createTask(acct, 3000)));
    const overdue = await Promise.all(Array.from({ length: n }, () => createTask(acct, 4000, { type: 'mj', deadlineAt: new Date(Date.now() - 1000) })));
    const jobFailed = await Promise.all(Array.from({ length: 4 }, () => createTask(acct, 5000, { type: 'image' })));
    for (const t of succeeded) await tasks.transition(t.id, { from: ['queued'], to: 'succeeded', event: 'succeeded', costMicros: 1500, progress: 100 });
    for (const t of cancelled) await tasks.transition(t.id, { from: ['queued'], to: 'cancelled', event: 'cancelled' });
    const q = queue('image');
    for (const t of jobFailed) await q.add('image', { task_id: t.id }, { jobId: t.id, attempts: 1 });
    const worker = new Worker(QUEUE_OF.image, async () => Promise.reject(new Error('boom')), { connection: bullConnection(REDIS_URL), prefix: bullPrefix(prefix), concurrency: 4 });
    try {
      await waitFor('the jobs to fail', async () => (await Promise.all(jobFailed.map((t) => producer.jobState('image', t.id)))).every((s) => s === 'failed'));
    } finally {
      await worker.close();
    }

    // two workers' loops: their own database pools, queues and billing clients
    const prisma2 = testPrisma(10);
    const producer2 = new TaskProducer(REDIS_URL, prefix);
    const billing2 = new RedisRpcClient({ redisUrl: REDIS_URL, prefix, service: SERVICES.billing, timeoutMs: 5000 });
    await billing2.connect();
    try {
      const other = new RepairLoop(new TaskRepository(prisma2), producer2, billing2, { orphanHoldMs: ORPHAN_MS });
      const [r1, r2] = await Promise.all([repair.once(), other.once()]);

      // each failed task was failed by exactly one of them, every hold resolved by exactly one call
      expect(r1.jobsFailed + r2.jobsFailed).toBe(4);
      expect(r1.errors + r2.errors).toBe(0);
      expect(r1.orphansReleased + r2.orphansReleased).toBeGreaterThanOrEqual(n);
      expect(r1.holdsFixed + r2.holdsFixed).toBeGreaterThanOrEqual(2 * n);
      expect(r1.deadlinesFailed + r2.deadlinesFailed).toBeGreaterThanOrEqual(n);
    } finally {
      await producer2.close();
      await billing2.close();
      await prisma2.$disconnect();
    }
    for (const id of orphans) expect(await resolutions(id)).toMatchObject([{ state: 'released', reason: 'orphaned task hold' }]);
    for (const t of succeeded) {
      expect(await resolutions(t.holdId)).toMatchObject([{ state: 'settled', amountMicros: 1500n }]);
      expect(await prisma.ledgerEntry.count({ where: { holdId: t.holdId } })).toBe(1);
    }
    for (const t of cancelled) expect(await resolutions(t.holdId)).toMatchObject([{ state: 'released' }]);
    for (const t of [...overdue, ...jobFailed]) {
      expect((await tasks.find(t.id))!.status).toBe('failed');
      expect((await tasks.events(t.id)).filter((e) => e.type === 'failed')).toHaveLength(1);
      expect(await resolutions(t.holdId)).toMatchObject([{ state: 'released' }]);
    }
    const b = await books(prisma, acct);
    expect(b).toMatchObject({ balance: 1_000_000 - n * 1500, held: 0, activeHolds: 0 });
    expectInvariants(b);
  }, 30_000);
});
