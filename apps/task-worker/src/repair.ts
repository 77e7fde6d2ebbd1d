import { Logger } from '@nestjs/common';
import { TaskRepository, type TaskProducer, type TaskType } from '@gateway/tasks';
import type { RedisRpcClient } from '@gateway/transport';

/**
 * Runs in every worker (each step is idempotent, so several at once are fine):
 * - a task still queued a while after creation whose job is missing (its enqueue was lost) is enqueued again;
 * - a final task whose hold is still active (the process died between finishing and billing) has its hold
 *   settled for the task's cost (succeeded) or released (failed, cancelled).
 */
export class RepairLoop {
  private readonly logger = new Logger(RepairLoop.name);
  private lastScan = new Date(Date.now() - 24 * 3600_000);

  constructor(
    private readonly tasks: TaskRepository,
    private readonly producer: TaskProducer,
    private readonly billing: RedisRpcClient,
  ) {}

  async once(): Promise<{ requeued: number; holdsFixed: number }> {
    let requeued = 0;
    for (const t of await this.tasks.staleQueued(new Date(Date.now() - 10_000))) {
      if (!(await this.producer.hasJob(t.type as TaskType, t.id))) {
        await this.producer.enqueue(t.type as TaskType, t.id);
        requeued++;
      }
    }
    const since = this.lastScan;
    this.lastScan = new Date(Date.now() - 60_000); // overlap: a row committed late is still seen
    const final = (await this.tasks.recentFinal(since)).filter((t) => t.holdId);
    let holdsFixed = 0;
    if (final.length > 0) {
      const states = new Map((await this.billing.call('holds.states', { ids: final.map((t) => t.holdId!) })).map((h) => [h.id, h.state]));
      for (const t of final) {
        if (states.get(t.holdId!) !== 'active') continue;
        if (t.status === 'succeeded') {
          await this.billing.call('holds.settle', { hold_id: t.holdId!, cost_micros: Number(t.costMicros), usage: { request_id: t.id, account_id: t.accountId, key_id: t.keyId, model: t.model, channel_id: t.channelId } });
        } else {
          await this.billing.call('holds.release', { hold_id: t.holdId!, reason: `task ${t.status}` });
        }
        holdsFixed++;
      }
    }
    if (requeued || holdsFixed) this.logger.log(`repair: ${requeued} task(s) re-enqueued, ${holdsFixed} hold(s) resolved`);
    return { requeued, holdsFixed };
  }
}
