import { loadConfigOrExit, workerConfigSchema } from '@gateway/config';
import { QUEUES } from '@gateway/contracts';
import { initTracing } from '@gateway/tracing';
import { Worker } from 'bullmq';

/**
 * The task fleet's process: one BullMQ worker per queue it serves (ACTIVE_QUEUES), each with
 * WORKER_CONCURRENCY. The processors for video, MJ and async image land with the async-task issue;
 * until then a job on these queues fails loudly rather than vanishing.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit(workerConfigSchema, 'task-worker');
  initTracing('task-worker');
  const wanted = config.ACTIVE_QUEUES === 'all' || config.ACTIVE_QUEUES === '' ? Object.values(QUEUES) : config.ACTIVE_QUEUES.split(',').map((q) => q.trim());
  const unknown = wanted.filter((q) => !(Object.values(QUEUES) as string[]).includes(q));
  if (unknown.length) {
    process.stderr.write(`[task-worker] ACTIVE_QUEUES names unknown queue(s): ${unknown.join(', ')}\n`);
    process.exit(78);
  }
  const url = new URL(config.REDIS_URL);
  const connection = { host: url.hostname, port: Number(url.port || 6379), password: url.password || undefined, maxRetriesPerRequest: null };
  const workers = wanted.map(
    (queue) =>
      new Worker(
        queue,
        async (job) => {
          throw new Error(`no processor for ${queue} job ${job.id} yet`);
        },
        { connection, concurrency: config.WORKER_CONCURRENCY, prefix: `${config.REDIS_PREFIX}bull` },
      ),
  );
  process.stdout.write(`[task-worker] serving ${wanted.join(', ')} with concurrency ${config.WORKER_CONCURRENCY}\n`);
  const stop = async () => {
    await Promise.all(workers.map((w) => w.close()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`[task-worker] failed to start: ${err.message}\n`);
  process.exit(1);
});
