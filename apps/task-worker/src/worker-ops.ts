import type { WorkerConfig } from '@gateway/config';
import { QUEUES } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { FAST_BUCKETS, counter, gauge, histogram, initMetrics, postgresCheck, redisCheck, startOpsServer, type OpsServer } from '@gateway/ops';
import { bullConnection, bullPrefix } from '@gateway/tasks';
import { Queue, type Job, type Worker } from 'bullmq';
import Redis from 'ioredis';

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const JOB_BUCKETS = [...FAST_BUCKETS, 10, 30, 60, 120, 300, 600, 1800];

/**
 * The ops port of a task-worker process: queue depths (every task queue, read from Redis at each scrape),
 * this process's job durations and failures, and readiness on Redis and Postgres.
 */
export async function startWorkerOps(config: WorkerConfig, workers: Worker[], prisma: PrismaClient): Promise<{ server?: OpsServer; close(): Promise<void> }> {
  initMetrics('task-worker', config.METRICS_LOOP_RESOLUTION_MS);
  const connection = bullConnection(config.REDIS_URL);
  const prefix = bullPrefix(config.REDIS_PREFIX);
  const queues = (Object.values(QUEUES) as string[]).map((name) => new Queue(name, { connection, prefix }));
  gauge('gateway_queue_jobs', 'Jobs in each task queue by state (waiting, active, delayed, failed)', ['queue', 'state'], async function () {
    await Promise.all(
      queues.map(async (q) => {
        const counts = await q.getJobCounts(...STATES).catch(() => null);
        if (counts) for (const s of STATES) this.labels(q.name, s).set(counts[s] ?? 0);
      }),
    );
  });
  const duration = histogram('gateway_job_duration_seconds', 'Job run time in this worker, by queue and outcome (completed, failed)', ['queue', 'outcome'], JOB_BUCKETS);
  const failures = counter('gateway_job_failures_total', 'Failed job attempts by queue', ['queue']);
  for (const w of workers) {
    const done = duration.labels(w.name, 'completed');
    const failed = duration.labels(w.name, 'failed');
    const failedCount = failures.labels(w.name);
    const took = (job: Job) => (job.processedOn ? ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000 : 0);
    w.on('completed', (job) => done.observe(took(job)));
    w.on('failed', (job) => {
      failedCount.inc();
      if (job) failed.observe(took(job));
    });
  }
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  const server = await startOpsServer({ port: config.OPS_PORT, checks: { redis: redisCheck(redis), postgres: postgresCheck(prisma) } });
  return {
    server,
    async close() {
      await server?.close();
      await Promise.all(queues.map((q) => q.close()));
      redis.disconnect();
    },
  };
}
