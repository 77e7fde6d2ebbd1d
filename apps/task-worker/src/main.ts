import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfigOrExit, workerConfigSchema } from '@gateway/config';
import { QUEUES, SERVICES } from '@gateway/contracts';
import { createPrisma } from '@gateway/db';
import { TaskProducer, TaskRepository, bullConnection, bullPrefix, type TaskJobData } from '@gateway/tasks';
import { exitAfterGrace, runWithRequestId, serviceLoggers } from '@gateway/logging';
import { SpanKind, extractContext, initTracing, withSpan } from '@gateway/tracing';
import { RedisRpcClient } from '@gateway/transport';
import { Worker, type Job } from 'bullmq';
import { RepairLoop } from './repair';
import { TaskRunner } from './task-runner';
import { startWorkerOps } from './worker-ops';

/**
 * The task fleet's process: one BullMQ worker per queue it serves (ACTIVE_QUEUES, e.g. "tasks-video,tasks-mj"),
 * each running WORKER_CONCURRENCY jobs at once. Scale by running more of these processes; BullMQ spreads the
 * jobs, and a job whose worker died is taken over once its lock (WORKER_LOCK_MS) lapses.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit(workerConfigSchema, 'task-worker');
  initTracing('task-worker');
  const logs = serviceLoggers('task-worker', config.LOG_LEVEL);
  Logger.overrideLogger(logs.nest);
  const logger = new Logger('task-worker');
  const all = Object.values(QUEUES) as string[];
  const wanted = config.ACTIVE_QUEUES === 'all' || config.ACTIVE_QUEUES === '' ? all : config.ACTIVE_QUEUES.split(',').map((q) => q.trim());
  const unknown = wanted.filter((q) => !all.includes(q));
  if (unknown.length) {
    process.stderr.write(`[task-worker] ACTIVE_QUEUES names unknown queue(s): ${unknown.join(', ')}; known: ${all.join(', ')}\n`);
    process.exit(78);
  }
  const prisma = createPrisma(config.DATABASE_URL, Math.max(4, config.WORKER_CONCURRENCY * wanted.length));
  const tasks = new TaskRepository(prisma);
  const rpc = (service: string) => new RedisRpcClient({ redisUrl: config.REDIS_URL, prefix: config.REDIS_PREFIX, service, timeoutMs: config.RPC_TIMEOUT_MS });
  const billing = rpc(SERVICES.billing);
  const models = rpc(SERVICES.models);
  await Promise.all([billing.connect(), models.connect()]);
  const runner = new TaskRunner({ tasks, billing, models, config });
  const producer = new TaskProducer(config.REDIS_URL, config.REDIS_PREFIX);

  // jobs running now, so that a shutdown that cannot wait for them hands them back to the queue
  const active = new Map<string, { job: Job<TaskJobData>; token?: string }>();
  const track = async <T>(job: Job<TaskJobData>, token: string | undefined, run: () => Promise<T>): Promise<T> => {
    active.set(job.id!, { job, token });
    try {
      return await run();
    } finally {
      active.delete(job.id!);
    }
  };
  const workers = wanted.map(
    (queue) =>
      new Worker<TaskJobData>(
        queue,
        (job, token) =>
          runWithRequestId(job.data.request_id, () =>
            withSpan('task-worker', `task ${queue}`, { kind: SpanKind.CONSUMER, parent: extractContext(job.data.trace), attributes: { 'gateway.task_id': job.data.task_id } }, () =>
              track(job, token, () => runner.run(job.data.task_id, job.attemptsMade + 1 >= (job.opts.attempts ?? 1))),
            ),
          ),
        {
          connection: bullConnection(config.REDIS_URL),
          prefix: bullPrefix(config.REDIS_PREFIX),
          concurrency: config.WORKER_CONCURRENCY,
          lockDuration: config.WORKER_LOCK_MS,
          stalledInterval: config.WORKER_STALLED_CHECK_MS,
          maxStalledCount: 5,
        },
      ),
  );
  for (const w of workers) w.on('failed', (job, err) => logger.warn(`job ${job?.id} attempt ${job?.attemptsMade} failed: ${err.message}`));

  const repair = new RepairLoop(tasks, producer, billing, { orphanHoldMs: config.TASK_HOLD_ORPHAN_MS });
  let repairing: Promise<unknown> | null = null;
  const repairPass = () => {
    repairing ??= repair
      .once()
      .catch((err: Error) => logger.error(`repair failed: ${err.message}`))
      .finally(() => (repairing = null));
  };
  // a first pass at once: a worker that comes back after a crash (or a fleet after an outage) repairs what
  // the crash left now, not a whole interval later; it also loads the database client's query compiler
  // while the worker starts, not in the middle of traffic
  repairPass();
  const timer = setInterval(repairPass, config.REPAIR_INTERVAL_MS);

  const ops = await startWorkerOps(config, workers, prisma);
  process.stdout.write(`[task-worker] serving ${wanted.join(', ')} with concurrency ${config.WORKER_CONCURRENCY} (pid ${process.pid})${ops.server ? `, ops on :${ops.server.port}` : ''}\n`);
  // SIGTERM: take no new jobs; wait for the running ones up to the grace period (less a reserve to close),
  // then move those still running back to waiting (their tasks resume on another worker from their state)
  const stop = async () => {
    logger.log(`shutdown: closing workers, ${active.size} job(s) running, grace ${config.SHUTDOWN_GRACE_MS} ms`);
    clearInterval(timer);
    await ops.close();
    const closed = Promise.all(workers.map((w) => w.close()));
    const inTime = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, config.SHUTDOWN_GRACE_MS - 3000)).unref())]);
    if (!inTime) {
      const left = [...active.values()];
      await Promise.allSettled(left.map(({ job, token }) => job.moveToWait(token)));
      logger.warn(`shutdown: handed ${left.length} running job(s) back to the queue`);
      await Promise.all(workers.map((w) => w.close(true)));
    }
    await repairing;
    await producer.close();
    await Promise.all([billing.close(), models.close()]);
    await prisma.$disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`[task-worker] failed to start: ${err.message}\n`);
  process.exit(1);
});
