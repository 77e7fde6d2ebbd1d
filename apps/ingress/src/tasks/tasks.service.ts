import type { OutgoingHttpHeaders } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, newId, type KeyPrincipal } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import { fieldPath } from '@gateway/protocols';
import { INPUT_SCHEMAS, TaskRepository, taskCostMicros, taskTypeOf, toTaskView, type MjInput, type TaskEventView, type TaskProducer, type TaskView } from '@gateway/tasks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { CallBillingService } from '../conversation/call-billing.service';
import { AdmissionService } from '../admission/admission.service';
import { ModelCacheService } from '../registry/model-cache.service';
import { setHoldId } from '../shared/request-context';
import { CONFIG, TASK_PRODUCER } from '../shared/tokens';

const TASK_HOLD_MARGIN_MS = 60 * 60_000;

/**
 * The uniform async-task API. Creating a task prices and holds it, writes the row with its first event,
 * then enqueues its job (job id = task id). A lost enqueue is re-done by the workers' repair loop, and a
 * job whose task is missing does nothing, so neither can exist without the other for long.
 */
@Injectable()
export class TasksService {
  private readonly logger = new Logger(TasksService.name);

  constructor(
    private readonly auth: AuthService,
    private readonly registry: ModelCacheService,
    private readonly billing: CallBillingService,
    private readonly admission: AdmissionService,
    private readonly tasks: TaskRepository,
    @Inject(TASK_PRODUCER) private readonly producer: TaskProducer,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {}

  async create(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const admitted = await this.admission.billed(this.auth.bearerKey(req), req, reply);
    if (!admitted) return undefined;
    const { principal, dryRun } = admitted;
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.model !== 'string' || !body.model) throw new DomainError('invalid_request', "'model' is required", 'model');
    const { model, targets } = await this.registry.resolve(body.model);
    const type = taskTypeOf(model.kind);
    if (!type) throw new DomainError('invalid_request', `model ${model.id} is a ${model.kind} model; tasks take video, mj or image models`, 'model');
    this.auth.assertModelAllowed(principal, model);
    const parsed = INPUT_SCHEMAS[type].safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = fieldPath(issue.path) || 'body';
      throw new DomainError('invalid_request', `${param}: ${issue.message}`, param);
    }
    const input = { ...parsed.data, model: model.id };
    if (type === 'mj' && (input as MjInput).action !== 'imagine') await this.parentMjTask(input as MjInput, principal);
    if (targets.length === 0) throw new DomainError('service_unavailable', `no channel serves model ${model.id}`);

    const cost = taskCostMicros(type, model.pricing, input);
    const deadlineAt = new Date(Date.now() + this.config.TASK_DEADLINE_MS);
    // a task's hold lives as long as its task (the call-hold sweeper leaves task holds alone)
    const hold = await this.billing.hold(principal, req.ttRequestId, model, cost, { kind: 'task', ttlMs: this.config.TASK_DEADLINE_MS + TASK_HOLD_MARGIN_MS });
    setHoldId(req, reply, hold.hold_id);
    if (dryRun) return this.billing.dryRunAnswer(hold, model.id, cost);

    const id = newId('task');
    let row;
    try {
      row = await this.tasks.create({ id, accountId: principal.account_id, keyId: principal.key_id, type, model: model.id, input, holdId: hold.hold_id, deadlineAt });
    } catch (err) {
      await this.billing.release(hold, 'task row not written');
      throw err;
    }
    try {
      await this.producer.enqueue(type, id, req.ttRequestId);
    } catch (err) {
      this.logger.error({ msg: `enqueue of ${id} failed: ${(err as Error).message}`, request_id: req.ttRequestId });
      if (await this.tasks.transition(id, { from: ['queued'], to: 'failed', event: 'failed', error: { code: 'enqueue_failed', message: 'the task could not be queued' } })) {
        await this.billing.release(hold, 'enqueue failed');
      }
      throw new DomainError('service_unavailable', 'the task queue is unavailable; the task was not started and nothing was charged');
    }
    void reply.code(202);
    return toTaskView(row);
  }

  private async parentMjTask(input: MjInput, principal: KeyPrincipal): Promise<void> {
    const parent = await this.tasks.findForAccount(input.task_id!, principal.account_id);
    if (!parent || parent.type !== 'mj') throw new DomainError('not_found', `task ${input.task_id} not found`, 'task_id');
    if (parent.status !== 'succeeded') throw new DomainError('invalid_request', `task ${input.task_id} has not succeeded (it is ${parent.status})`, 'task_id');
  }

  async get(req: FastifyRequest, reply: FastifyReply, id: string): Promise<TaskView> {
    return toTaskView(await this.owned(req, id, reply));
  }

  async events(req: FastifyRequest, reply: FastifyReply, id: string): Promise<{ data: TaskEventView[] }> {
    await this.owned(req, id, reply);
    return { data: await this.tasks.events(id) };
  }

  /** The ordered events as SSE: those so far, then new ones as they are written, until the final one. */
  async streamEvents(req: FastifyRequest, reply: FastifyReply, id: string): Promise<void> {
    await this.owned(req, id, reply);
    reply.hijack();
    const res = reply.raw;
    // with what the reply holds (x-ratelimit-*, from the read's check)
    res.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-tt-request-id': req.ttRequestId });
    let gone = false;
    res.on('close', () => (gone = true));
    let last = 0;
    let beat = Date.now();
    while (!gone) {
      for (const ev of await this.tasks.events(id, last)) {
        res.write(`id: ${ev.seq}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
        last = ev.seq;
        if (['succeeded', 'failed', 'cancelled'].includes(ev.type)) {
          res.end();
          return;
        }
      }
      if (Date.now() - beat > 15_000) {
        res.write(': keep-alive\n\n');
        beat = Date.now();
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** A finished video's bytes, fetched from the channel that made it (its URL needs the channel's key). */
  async content(req: FastifyRequest, reply: FastifyReply, id: string): Promise<unknown> {
    const task = await this.owned(req, id, reply);
    if (task.type !== 'video') throw new DomainError('invalid_request', `task ${id} is a ${task.type} task; its result holds its URLs`, 'id');
    if (task.status !== 'succeeded') throw new DomainError('invalid_request', `task ${id} is ${task.status}; content exists once it succeeded`, 'id');
    const { targets } = await this.registry.resolve(task.model);
    const target = targets.find((t) => t.channel_id === task.channelId) ?? targets.find((t) => t.provider === 'openai');
    if (!target) throw new DomainError('service_unavailable', `the channel that made task ${id} is gone`);
    const res = await fetch(`${target.base_url.replace(/\/+$/, '')}/videos/${task.upstreamId}/content`, { headers: { authorization: `Bearer ${target.api_key}` } });
    if (!res.ok) throw new DomainError('upstream_error', `the upstream answered ${res.status} for the video content`);
    void reply.header('content-type', res.headers.get('content-type') ?? 'video/mp4');
    return Buffer.from(await res.arrayBuffer());
  }

  async cancel(req: FastifyRequest, reply: FastifyReply, id: string): Promise<TaskView> {
    const task = await this.owned(req, id, reply);
    const won = await this.tasks.transition(id, { from: ['queued', 'running'], to: 'cancelled', event: 'cancelled', eventData: { by: 'client' }, error: { code: 'cancelled', message: 'cancelled by the client' } });
    if (!won) {
      const now = await this.tasks.find(id);
      throw new DomainError('invalid_request', `task ${id} is already ${now?.status}`, 'id');
    }
    // the cancel owns the money step; a running job sees the status, cancels upstream and stops
    if (task.holdId) await this.billing.release({ hold_id: task.holdId }, 'task cancelled');
    await this.producer.removeWaiting(task.type as 'video' | 'mj' | 'image', id).catch(() => undefined);
    return toTaskView((await this.tasks.find(id))!);
  }

  private async owned(req: FastifyRequest, id: string, reply: FastifyReply) {
    const principal = await this.admission.read(this.auth.bearerKey(req), reply);
    const task = await this.tasks.findForAccount(id, principal.account_id);
    if (!task) throw new DomainError('not_found', `task ${id} not found`, 'id');
    return task;
  }
}
