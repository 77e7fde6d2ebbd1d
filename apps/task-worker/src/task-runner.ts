import { Logger } from '@nestjs/common';
import type { ResolvedModel, RouteTarget } from '@gateway/contracts';
import type { WorkerConfig } from '@gateway/config';
import { FINAL, TaskRepository, taskCostMicros, type TaskInput, type TaskType, type UpstreamState } from '@gateway/tasks';
import type { RedisRpcClient } from '@gateway/transport';
import { bflImageAdapter } from './adapters/bfl-image.adapter';
import { midjourneyAdapter } from './adapters/midjourney.adapter';
import { openaiVideoAdapter } from './adapters/openai-video.adapter';
import { PermanentError, TransientError, type JobAdapter } from './adapters/adapter';

export const ADAPTERS: Record<TaskType, JobAdapter> = { video: openaiVideoAdapter, mj: midjourneyAdapter, image: bflImageAdapter };

export interface RunnerDeps {
  tasks: TaskRepository;
  billing: RedisRpcClient;
  models: RedisRpcClient;
  config: WorkerConfig;
}

/** which worker process did a step, for the events (ops can see a take-over) */
const WORKER = `${process.env.HOSTNAME ?? 'local'}:${process.pid}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one task to a final state: submit upstream (once: the upstream's ids are saved before anything
 * else, so a worker that takes over resumes polling), poll with backoff, record progress, then finish.
 * Every finish is a conditional transition; only its winner settles or releases the hold, so a task is
 * charged at most once whatever races with it (a cancel, a second worker, the deadline).
 */
export class TaskRunner {
  private readonly logger = new Logger(TaskRunner.name);

  constructor(private readonly deps: RunnerDeps) {}

  async run(taskId: string, isLastAttempt: boolean): Promise<void> {
    const { tasks } = this.deps;
    const task = await tasks.find(taskId);
    if (!task) {
      this.logger.warn(`job for unknown task ${taskId} dropped`);
      return;
    }
    const type = task.type as TaskType;
    const adapter = ADAPTERS[type];
    let state = (task.upstream as UpstreamState | null) ?? null;
    if (FINAL.includes(task.status)) {
      if (task.status === 'cancelled' && state) await this.cancelUpstream(adapter, state, task.model);
      return;
    }
    if (!state && task.deadlineAt && Date.now() > task.deadlineAt.getTime()) {
      // a job that waited past its task's deadline: failing it now beats submitting work nobody will wait for
      return void (await this.fail(taskId, task.holdId, 'deadline_exceeded', `the task did not start by its deadline ${task.deadlineAt.toISOString()}`));
    }
    const input = task.input as unknown as TaskInput;
    const resolved = await this.deps.models.call('models.resolve', { model: task.model });
    if (!resolved) return void (await this.fail(taskId, task.holdId, 'model_not_found', `model ${task.model} no longer exists`));

    try {
      if (!state) {
        const target = this.pickTarget(resolved, adapter, null);
        const parent = type === 'mj' && (input as { task_id?: string }).task_id ? await this.parentState((input as { task_id: string }).task_id) : null;
        state = await adapter.submit(input, target, parent);
        await tasks.saveUpstream(taskId, state);
        const started = await tasks.transition(taskId, { from: ['queued'], to: 'running', event: 'submitted', eventData: { provider: state.provider, upstream_ids: state.ids, worker: WORKER } });
        if (!started) {
          // cancelled while we were submitting
          await this.cancelUpstream(adapter, state, task.model);
          return;
        }
      } else if (task.status === 'queued') {
        await tasks.transition(taskId, { from: ['queued'], to: 'running', event: 'resumed', eventData: { worker: WORKER } });
      } else {
        // a worker took over a job whose worker stopped: polling resumes on the saved upstream ids
        await tasks.appendEvent(taskId, 'resumed', { worker: WORKER });
      }
      await this.pollToEnd(taskId, type, input, state, adapter, resolved, task.deadlineAt ?? new Date(Date.now() + 30 * 60_000));
    } catch (err) {
      if (err instanceof PermanentError) return void (await this.fail(taskId, task.holdId, 'upstream_rejected', err.message));
      if (isLastAttempt) return void (await this.fail(taskId, task.holdId, 'upstream_unavailable', (err as Error).message));
      throw err; // BullMQ retries with backoff
    }
  }

  private async pollToEnd(taskId: string, type: TaskType, input: TaskInput, state: UpstreamState, adapter: JobAdapter, resolved: ResolvedModel, deadline: Date): Promise<void> {
    const { tasks, config } = this.deps;
    const target = this.pickTarget(resolved, adapter, state.channel_id);
    let wait = config.POLL_MIN_MS;
    let errors = 0;
    for (;;) {
      const now = await tasks.find(taskId);
      if (!now || FINAL.includes(now.status)) {
        if (now?.status === 'cancelled') await this.cancelUpstream(adapter, state, now.model);
        return;
      }
      if (Date.now() > deadline.getTime()) {
        await this.cancelUpstream(adapter, state, now.model);
        return void (await this.fail(taskId, now.holdId, 'deadline_exceeded', `the task did not finish by its deadline ${deadline.toISOString()}`));
      }
      let r;
      try {
        r = await adapter.poll(state, target);
        errors = 0;
      } catch (err) {
        if (!(err instanceof TransientError) || ++errors > config.POLL_MAX_ERRORS) throw err instanceof TransientError ? new PermanentError(`upstream kept failing: ${err.message}`) : err;
        this.logger.warn(`${taskId}: transient upstream error ${errors}/${config.POLL_MAX_ERRORS}: ${err.message}`);
        await sleep(wait);
        wait = Math.min(wait * 2, config.POLL_MAX_MS);
        continue;
      }
      if (r.status === 'running') {
        await tasks.progress(taskId, r.progress);
        if (state.done) await tasks.saveUpstream(taskId, state);
        await sleep(wait);
        wait = Math.min(wait * 2, config.POLL_MAX_MS);
        continue;
      }
      if (r.status === 'failed') return void (await this.fail(taskId, now.holdId, 'upstream_failed', r.error));
      const cost = taskCostMicros(type, resolved.model.pricing, input, r.images);
      const won = await tasks.transition(taskId, { from: ['running'], to: 'succeeded', event: 'succeeded', eventData: { cost_micros: cost }, progress: 100, result: r.result, costMicros: cost });
      if (won && now.holdId) await this.settle(now.holdId, cost, taskId, now, resolved.model.price_id ?? null);
      return;
    }
  }

  private pickTarget(resolved: ResolvedModel, adapter: JobAdapter, channelId: string | null): RouteTarget {
    const usable = resolved.targets.filter((t) => t.provider === adapter.provider);
    const target = (channelId && usable.find((t) => t.channel_id === channelId)) || usable[0];
    if (!target) throw new PermanentError(`no ${adapter.provider} channel serves model ${resolved.model.id}`);
    return target;
  }

  private async parentState(parentTaskId: string): Promise<UpstreamState | null> {
    const parent = await this.deps.tasks.find(parentTaskId);
    return (parent?.upstream as UpstreamState | null) ?? null;
  }

  private async cancelUpstream(adapter: JobAdapter, state: UpstreamState, model: string): Promise<void> {
    if (!adapter.cancel) return;
    try {
      const resolved = await this.deps.models.call('models.resolve', { model });
      if (resolved) await adapter.cancel(state, this.pickTarget(resolved, adapter, state.channel_id));
    } catch (err) {
      this.logger.warn(`upstream cancel of ${state.ids.join(',')} failed: ${(err as Error).message}`);
    }
  }

  async fail(taskId: string, holdId: string | null, code: string, message: string): Promise<void> {
    const won = await this.deps.tasks.transition(taskId, { from: ['queued', 'running'], to: 'failed', event: 'failed', eventData: { code, message }, error: { code, message } });
    if (won && holdId) await this.release(holdId, `task ${code}`);
  }

  private async settle(holdId: string, cost: number, taskId: string, task: { accountId: string; keyId: string | null; model: string; channelId: string | null }, priceId: number | null): Promise<void> {
    await this.retry(() =>
      this.deps.billing.call('holds.settle', {
        hold_id: holdId,
        cost_micros: cost,
        // price_id: the pricing the cost was computed from (the repair loop, which settles later, does not know it)
        usage: { request_id: taskId, account_id: task.accountId, key_id: task.keyId, model: task.model, channel_id: task.channelId, price_id: priceId },
      }),
    );
  }

  private async release(holdId: string, reason: string): Promise<void> {
    await this.retry(() => this.deps.billing.call('holds.release', { hold_id: holdId, reason }));
  }

  /** the repair loop finishes what a crash here interrupts, so a few tries suffice */
  private async retry(fn: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; attempt <= 4; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        if (attempt === 4) this.logger.error(`billing call failed; the repair loop will finish it: ${(err as Error).message}`);
        else await sleep(200 * 2 ** attempt);
      }
    }
  }
}
