import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { workerConfigSchema } from '@gateway/config';
import { Queue, Worker } from 'bullmq';

// A killed worker's job resumes within 15 s (issue 11) with the default WORKER_LOCK_MS and
// WORKER_STALLED_CHECK_MS: a worker in another process takes a job and is killed with SIGKILL (no chance
// to hand the job back); another worker, with the same settings, has the job again within 15 s.
describe('task worker stalled-job settings (real Redis and BullMQ)', () => {
  const config = workerConfigSchema.parse({ REDIS_URL: process.env.REDIS_URL });
  const connection = { url: config.REDIS_URL, maxRetriesPerRequest: null };
  const prefix = `int-stall-${randomUUID()}`;
  const name = 'stall-test';
  const settings = { lockDuration: config.WORKER_LOCK_MS, stalledInterval: config.WORKER_STALLED_CHECK_MS, maxStalledCount: 5 };
  let queue: Queue;
  let worker: Worker | undefined;

  beforeAll(() => {
    queue = new Queue(name, { connection, prefix });
  });

  afterAll(async () => {
    await worker?.close(true);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  });

  it('the defaults promise a take-over within 15 s', () => {
    expect(config.WORKER_LOCK_MS + config.WORKER_STALLED_CHECK_MS).toBeLessThanOrEqual(15_000);
  });

  it('a job whose worker was killed is running on another worker within 15 s', async () => {
    await queue.add('job', { n: 1 }, { jobId: 'j1' });
    // the first worker: takes the job, says so, and never finishes it
    const script = `
      const { Worker } = require('bullmq');
      new Worker(${JSON.stringify(name)}, () => { console.log('taken'); return new Promise(() => {}); },
        { connection: ${JSON.stringify(connection)}, prefix: ${JSON.stringify(prefix)}, ...${JSON.stringify(settings)} });`;
    const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('taken') && resolve());
      child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
    });
    await new Promise<void>((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    const killedAt = Date.now();
    const resumed = new Promise<number>((resolve) => {
      worker = new Worker(name, async () => resolve(Date.now() - killedAt), { connection, prefix, ...settings });
    });
    const waited = await resumed;
    expect(waited).toBeLessThanOrEqual(15_000);
  }, 40_000);
});
