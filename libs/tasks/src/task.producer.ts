import { QUEUES } from '@gateway/contracts';
import { injectContext } from '@gateway/tracing';
import { currentCallContext } from '@gateway/logging';
import { Queue, type ConnectionOptions, type JobState } from 'bullmq';
import type { TaskJobData, TaskType } from './task.types';

export const QUEUE_OF: Record<TaskType, string> = { video: QUEUES.video, mj: QUEUES.mj, image: QUEUES.image };

export function bullConnection(redisUrl: string): ConnectionOptions {
  const u = new URL(redisUrl);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined,
    maxRetriesPerRequest: null,
  };
}

export const bullPrefix = (redisPrefix: string) => `${redisPrefix}bull`;

export interface QueueCounts {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

/**
 * Puts task jobs on their queue. The job id is the task id, so enqueueing a task twice (a retry, or the
 * repair loop after a lost enqueue) makes one job.
 */
export class TaskProducer {
  private readonly queues: Record<TaskType, Queue>;

  constructor(redisUrl: string, redisPrefix: string) {
    const connection = bullConnection(redisUrl);
    const prefix = bullPrefix(redisPrefix);
    this.queues = {
      video: new Queue(QUEUE_OF.video, { connection, prefix }),
      mj: new Queue(QUEUE_OF.mj, { connection, prefix }),
      image: new Queue(QUEUE_OF.image, { connection, prefix }),
    };
  }

  /** requestId: the call that created the task (the worker's lines carry it); else the running call's, if any */
  async enqueue(type: TaskType, taskId: string, requestId?: string): Promise<void> {
    const data: TaskJobData = { task_id: taskId, trace: injectContext(), request_id: requestId ?? currentCallContext()?.request_id };
    await this.queues[type].add(type, data, {
      jobId: taskId,
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  async hasJob(type: TaskType, taskId: string): Promise<boolean> {
    return (await this.queues[type].getJob(taskId)) !== undefined;
  }

  /** where a task's job is; 'unknown' when there is none (never enqueued, or removed) */
  jobState(type: TaskType, taskId: string): Promise<JobState | 'unknown'> {
    return this.queues[type].getJobState(taskId);
  }

  /**
   * The newest jobs that failed for good, newest first. A job lands in the failed set only once it has no
   * attempt left (or stalled too often): a retry waits as a delayed job.
   */
  failedJobIds(type: TaskType, limit: number): Promise<string[]> {
    return this.queues[type].getRanges(['failed'], 0, limit - 1, false);
  }

  /** why a job failed, as BullMQ recorded it */
  async failure(type: TaskType, taskId: string): Promise<{ reason: string; attempts: number } | null> {
    const job = await this.queues[type].getJob(taskId);
    return job ? { reason: job.failedReason ?? 'unknown', attempts: job.attemptsMade } : null;
  }

  /** a queued task's job is dropped on cancel; an active one notices the cancel itself */
  async removeWaiting(type: TaskType, taskId: string): Promise<void> {
    const job = await this.queues[type].getJob(taskId);
    if (job && (await job.isWaiting())) await job.remove().catch(() => undefined);
  }

  async counts(): Promise<QueueCounts[]> {
    return Promise.all(
      (Object.keys(this.queues) as TaskType[]).map(async (t) => {
        const c = await this.queues[t].getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
        return { queue: QUEUE_OF[t], waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 };
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}
