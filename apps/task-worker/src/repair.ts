import { Logger } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import type { Db } from '@gateway/db';
import { TaskRepository, type TaskProducer, type TaskType } from '@gateway/tasks';
import type { RedisRpcClient } from '@gateway/transport';

const TYPES: TaskType[] = ['video', 'mj', 'image'];

export interface RepairOptions {
  /** an active task hold this old with no task row pointing at it is released (TASK_HOLD_ORPHAN_MS) */
  orphanHoldMs: number;
  /** a queued task this old without a job has lost its enqueue */
  requeueAfterMs?: number;
  /** how many of each queue's newest failed jobs a pass looks at */
  failedJobsScanned?: number;
}

export interface RepairResult {
  /** queued tasks whose lost job was enqueued again */
  requeued: number;
  /** tasks failed because their job failed for good (attempts used up, stalled too often) */
  jobsFailed: number;
  /** tasks failed because they passed their deadline and no job will run them again */
  deadlinesFailed: number;
  /** holds of final tasks settled or released */
  holdsFixed: number;
  /** active task holds without a task, released */
  orphansReleased: number;
  /** items that failed in this pass (logged); a later pass tries them again */
  errors: number;
}

/**
 * Runs in every worker; several at once are fine, because every step either is idempotent (enqueue: job id
 * = task id) or moves money only for the winner of a conditional step (a task transition, or the state
 * guard that resolves a hold once). No task hold stays active without a live task:
 * - a queued task a while after creation whose job is missing (its enqueue was lost) is enqueued again;
 * - a task whose job failed for good (BullMQ's failed set) while the task is still queued or running is
 *   failed, and its hold released;
 * - a task past its deadline whose job is gone or finished is failed and released (the runner fails the
 *   ones whose job still runs);
 * - a final task whose hold is still active (the process died between finishing and billing) has its hold
 *   settled for the task's cost (succeeded) or released (failed, cancelled);
 * - an active task hold older than the grace period that no task row points at (the task was never
 *   written) is released.
 */
export class RepairLoop {
  private readonly logger = new Logger(RepairLoop.name);

  constructor(
    private readonly tasks: TaskRepository,
    private readonly producer: TaskProducer,
    private readonly billing: Pick<RedisRpcClient, 'call'>,
    private readonly options: RepairOptions,
  ) {}

  async once(): Promise<RepairResult> {
    const r: RepairResult = { requeued: 0, jobsFailed: 0, deadlinesFailed: 0, holdsFixed: 0, orphansReleased: 0, errors: 0 };
    const each = <T extends { id: string }>(items: T[], fix: (item: T) => Promise<unknown>) => this.each(items, fix, r);

    for (const type of TYPES) {
      const ids = await this.producer.failedJobIds(type, this.options.failedJobsScanned ?? 1000);
      await each(await this.tasks.unfinished(ids), async (t) => {
        // asked again one by one: a job retried by hand since the listing is no longer failed
        if ((await this.producer.jobState(type, t.id)) !== 'failed') return;
        const why = await this.producer.failure(type, t.id);
        const message = `the task's job failed for good after ${why?.attempts ?? '?'} attempt(s): ${why?.reason ?? 'unknown'}`;
        if (await this.fail(t, 'job_failed', message)) r.jobsFailed++;
      });
    }

    await each(await this.tasks.pastDeadline(), async (t) => {
      const state = await this.producer.jobState(t.type as TaskType, t.id);
      // a waiting, delayed or active job is still to run: the runner fails it for its deadline itself
      if (state !== 'unknown' && state !== 'completed' && state !== 'failed') return;
      const message = `the task did not finish by its deadline ${t.deadlineAt?.toISOString()} and no job is left to run it`;
      if (await this.fail(t, 'deadline_exceeded', message)) r.deadlinesFailed++;
    });

    await each(await this.tasks.staleQueued(new Date(Date.now() - (this.options.requeueAfterMs ?? 10_000))), async (t) => {
      if (await this.producer.hasJob(t.type as TaskType, t.id)) return;
      await this.producer.enqueue(t.type as TaskType, t.id);
      r.requeued++;
    });

    await each(await this.tasks.finalStillHolding(), async (t) => {
      const s =
        t.status === 'succeeded'
          ? await this.billing.call('holds.settle', {
              hold_id: t.holdId!,
              cost_micros: Number(t.costMicros),
              usage: { request_id: t.id, account_id: t.accountId, key_id: t.keyId, model: t.model, channel_id: t.channelId },
            })
          : await this.billing.call('holds.release', { hold_id: t.holdId!, reason: `task ${t.status}` });
      if (s.status === 'ok') r.holdsFixed++; // else another repair resolved it first
    });

    await each(await this.tasks.orphanTaskHolds(this.options.orphanHoldMs), async (h) => {
      const s = await this.billing.call('holds.release', { hold_id: h.id, reason: 'orphaned task hold' });
      if (s.status === 'ok') r.orphansReleased++;
    });

    if (r.requeued + r.jobsFailed + r.deadlinesFailed + r.holdsFixed + r.orphansReleased > 0) {
      this.logger.log(
        `repair: ${r.requeued} task(s) re-enqueued, ${r.jobsFailed} failed with their job, ${r.deadlinesFailed} failed past their deadline, ` +
          `${r.holdsFixed} final task hold(s) resolved, ${r.orphansReleased} orphaned task hold(s) released`,
      );
    }
    return r;
  }

  /**
   * One item's error is logged and the pass goes on (a later pass tries it again); billing being
   * unreachable ends the pass, since every item after would wait out the same timeout.
   */
  private async each<T extends { id: string }>(items: T[], fix: (item: T) => Promise<unknown>, r: RepairResult): Promise<void> {
    for (const item of items) {
      try {
        await fix(item);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'service_unavailable') throw err;
        r.errors++;
        this.logger.warn(`repair of ${item.id} failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Fails an unfinished task through the one conditional transition; only its winner releases the hold. A
   * release that does not get through is finished by a later pass (a final task still holding).
   */
  private async fail(t: Db.Task, code: string, message: string): Promise<boolean> {
    const won = await this.tasks.transition(t.id, { from: ['queued', 'running'], to: 'failed', event: 'failed', eventData: { code, message, by: 'repair' }, error: { code, message } });
    if (won && t.holdId) await this.billing.call('holds.release', { hold_id: t.holdId, reason: `task ${code}` });
    return won;
  }
}
