import type { Db, PrismaClient } from '@gateway/db';
import { FINAL, type TaskEventView, type TaskStatus, type TaskType, type TaskView, type UpstreamState } from './task.types';

export function toTaskView(t: Db.Task): TaskView {
  return {
    id: t.id,
    object: 'task',
    type: t.type as TaskType,
    model: t.model,
    status: t.status,
    progress: t.progress,
    result: t.result ?? null,
    error: t.error ?? null,
    cost_micros: Number(t.costMicros),
    hold_id: t.holdId,
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
  };
}

export interface Transition {
  from: TaskStatus[];
  to: TaskStatus;
  event: string;
  eventData?: unknown;
  progress?: number;
  result?: unknown;
  error?: unknown;
  costMicros?: number;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

/** The tasks table and its events; shared by ingress (create, read, cancel) and the workers (advance). */
export class TaskRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** The task and its first event in one transaction. */
  async create(t: { id: string; accountId: string; keyId: string | null; type: TaskType; model: string; input: unknown; holdId: string; deadlineAt: Date }): Promise<Db.Task> {
    return this.prisma.$transaction(async (tx) => {
      const row = await tx.task.create({
        data: { id: t.id, accountId: t.accountId, keyId: t.keyId, type: t.type, model: t.model, input: t.input as object, holdId: t.holdId, deadlineAt: t.deadlineAt },
      });
      await tx.taskEvent.create({ data: { taskId: t.id, seq: 1, type: 'queued', data: { model: t.model } } });
      return row;
      // a burst of submits queues for the pool's connections: wait for one rather than refuse after 2 s
    }, { maxWait: 10_000 });
  }

  find(id: string): Promise<Db.Task | null> {
    return this.prisma.task.findUnique({ where: { id } });
  }

  /** A task is visible to its own account only. */
  findForAccount(id: string, accountId: string): Promise<Db.Task | null> {
    return this.prisma.task.findFirst({ where: { id, accountId } });
  }

  /** An account's tasks, newest first (`before`: a created_at cursor). */
  listForAccount(accountId: string, opts: { limit?: number; status?: Db.Task['status']; before?: Date } = {}): Promise<Db.Task[]> {
    return this.prisma.task.findMany({
      where: { accountId, ...(opts.status ? { status: opts.status } : {}), ...(opts.before ? { createdAt: { lt: opts.before } } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: Math.min(Math.max(opts.limit ?? 50, 1), 200),
    });
  }

  async events(id: string, afterSeq = 0): Promise<TaskEventView[]> {
    const rows = await this.prisma.taskEvent.findMany({ where: { taskId: id, seq: { gt: afterSeq } }, orderBy: { seq: 'asc' } });
    return rows.map((e) => ({ seq: e.seq, type: e.type, at: e.at.toISOString(), data: e.data }));
  }

  async appendEvent(id: string, type: string, data: unknown): Promise<number> {
    const [r] = await this.prisma.$queryRaw<Array<{ seq: number }>>`SELECT gw_task_event(${id}, ${type}, ${json(data)}::jsonb) AS seq`;
    return Number(r.seq);
  }

  /** true if this caller moved the task (and so owns the money step that follows) */
  async transition(id: string, t: Transition): Promise<boolean> {
    const [r] = await this.prisma.$queryRaw<Array<{ ok: boolean }>>`
      SELECT gw_task_transition(${id}, ${t.from}::task_status[], ${t.to}::task_status, ${t.progress ?? null}::int,
                                ${json(t.result)}::jsonb, ${json(t.error)}::jsonb, ${t.costMicros === undefined ? null : BigInt(t.costMicros)}::bigint,
                                ${t.event}, ${json(t.eventData)}::jsonb) AS ok`;
    return r.ok;
  }

  /** Progress of a running task; the event only when it moved. */
  async progress(id: string, progress: number): Promise<void> {
    const r = await this.prisma.task.updateMany({ where: { id, status: 'running', progress: { lt: progress } }, data: { progress } });
    if (r.count > 0) await this.appendEvent(id, 'progress', { progress });
  }

  saveUpstream(id: string, upstream: UpstreamState): Promise<unknown> {
    return this.prisma.task.update({ where: { id }, data: { upstream: upstream as object, upstreamId: upstream.ids.join(','), channelId: upstream.channel_id } });
  }

  /** queued tasks older than a moment: candidates for a lost enqueue */
  staleQueued(olderThan: Date, limit = 200): Promise<Db.Task[]> {
    return this.prisma.task.findMany({ where: { status: 'queued', createdAt: { lt: olderThan } }, take: limit, orderBy: { createdAt: 'asc' } });
  }

  // The repair loop's questions. Each starts from the small sets (active task holds, unfinished tasks), not
  // from a time window, so nothing missed in one pass (billing down, a worker restarting) is missed for good.
  // A task's row is found from its hold through the (account_id, created_at) index: a task is written after
  // its hold, on the same account (the hour of slack covers a clock that is off).

  /** final tasks whose hold is still active: the process that finished them died before billing them */
  async finalStillHolding(limit = 500): Promise<Db.Task[]> {
    const rows = await this.prisma.$queryRaw<Array<{ id: string }>>`
      SELECT t.id
        FROM holds h
        JOIN tasks t ON t.account_id = h.account_id AND t.created_at >= h.created_at - interval '1 hour' AND t.hold_id = h.id
       WHERE h.state = 'active' AND h.kind = 'task' AND t.status = ANY(${[...FINAL]}::task_status[])
       ORDER BY h.created_at
       LIMIT ${limit}::int`;
    return rows.length ? this.prisma.task.findMany({ where: { id: { in: rows.map((r) => r.id) } } }) : [];
  }

  /**
   * Active task holds placed more than `olderThanMs` ago (database clock) that no task row points at: the
   * hold was placed but the task never written (a lost reply, ingress killed in between).
   */
  orphanTaskHolds(olderThanMs: number, limit = 200): Promise<OrphanHold[]> {
    return this.prisma.$queryRaw<OrphanHold[]>`
      SELECT h.id, h.account_id, h.amount_micros, h.created_at
        FROM holds h
       WHERE h.state = 'active' AND h.kind = 'task' AND h.created_at < now() - make_interval(secs => ${olderThanMs}::float8 / 1000)
         AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.account_id = h.account_id AND t.created_at >= h.created_at - interval '1 hour' AND t.hold_id = h.id)
       ORDER BY h.created_at
       LIMIT ${limit}::int`;
  }

  /** queued or running tasks past their deadline (database clock) */
  async pastDeadline(limit = 200): Promise<Db.Task[]> {
    const rows = await this.prisma.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM tasks WHERE status IN ('queued', 'running') AND deadline_at < now() ORDER BY deadline_at LIMIT ${limit}::int`;
    return rows.length ? this.prisma.task.findMany({ where: { id: { in: rows.map((r) => r.id) } } }) : [];
  }

  /** those of `ids` still queued or running */
  unfinished(ids: string[]): Promise<Db.Task[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.prisma.task.findMany({ where: { id: { in: ids }, status: { in: ['queued', 'running'] } } });
  }
}

export interface OrphanHold {
  id: string;
  account_id: string;
  amount_micros: bigint;
  created_at: Date;
}
