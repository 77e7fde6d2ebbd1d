import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import { sleep } from '../directives';
import { FORCED_FAILURE_REASON, JobStore, TRANSIENT_ERROR_MESSAGE, planJob, pollJob, viewJob, type MockJob } from '../jobs';
import type { MockState } from '../state';

// The API of the open-source midjourney-proxy (novicezk/midjourney-proxy), under its default /mj context
// path: POST /mj/submit/imagine, /mj/submit/change and /mj/submit/action submit tasks, GET
// /mj/task/:id/fetch polls one. Authentication is the `mj-api-secret` header. Like the proxy, a refused
// submission answers HTTP 200 with a `code` other than 1 (3 not found, 4 validation error); only the
// secret, [[mock:submit_status]] and transient poll errors use HTTP statuses. There is no cancel: the
// real proxy has none.

export type MjAction = 'IMAGINE' | 'UPSCALE' | 'VARIATION' | 'REROLL';
export type MjStatus = 'NOT_START' | 'SUBMITTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE';

/** midjourney-proxy's ReturnCode values */
export const MJ_CODE = { SUCCESS: 1, NOT_FOUND: 3, VALIDATION_ERROR: 4 } as const;

interface MjMeta {
  action: MjAction;
  description: string;
  state: string | null;
  notifyHook: string | null;
  /** the task an UPSCALE, VARIATION or REROLL was made from */
  parentId: string | null;
  finalPrompt: string;
}

interface SubmitCommon {
  notifyHook?: unknown;
  state?: unknown;
}

interface ImagineBody extends SubmitCommon {
  prompt?: unknown;
  base64Array?: unknown;
}

interface ChangeBody extends SubmitCommon {
  taskId?: unknown;
  action?: unknown;
  index?: unknown;
}

interface ActionBody extends SubmitCommon {
  taskId?: unknown;
  customId?: unknown;
}

interface TaskRoute {
  Params: { id: string };
}

interface MjButton {
  customId: string;
  emoji: string;
  label: string;
  type: 2;
  style: 2;
}

/** the actions that produce a four-image grid, whose buttons lead to the next tasks */
const GRID_ACTIONS: readonly MjAction[] = ['IMAGINE', 'VARIATION', 'REROLL'];
const CHANGE_ACTIONS: readonly MjAction[] = ['UPSCALE', 'VARIATION', 'REROLL'];
const isChangeAction = (v: unknown): v is MjAction => typeof v === 'string' && (CHANGE_ACTIONS as readonly string[]).includes(v);
const optionalText = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** `{code, description}` at an HTTP status: the unauthorised, forced and transient answers. */
export function mjError(reply: FastifyReply, status: number, description: string) {
  return reply.code(status).send({ code: status, description });
}

/** A refused submission: HTTP 200, code other than 1, as the proxy's SubmitResultVO.fail. */
const submitFailure = (code: number, description: string) => ({ code, description, result: null, properties: {} });

function mjErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  return mjError(reply, err.statusCode ?? 500, err.message);
}

/** The Discord message hash the buttons carry; any stable string does. */
function messageHash(taskId: string): string {
  const h = createHash('sha1').update(taskId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function gridButtons(taskId: string): MjButton[] {
  const hash = messageHash(taskId);
  const button = (customId: string, label: string, emoji = ''): MjButton => ({ customId, emoji, label, type: 2, style: 2 });
  return [
    ...[1, 2, 3, 4].map((i) => button(`MJ::JOB::upsample::${i}::${hash}`, `U${i}`)),
    button(`MJ::JOB::reroll::0::${hash}::SOLO`, '', '\u{1f504}'),
    ...[1, 2, 3, 4].map((i) => button(`MJ::JOB::variation::${i}::${hash}`, `V${i}`)),
  ];
}

/** A button's customId as the change it stands for; undefined when the mock does not know it. */
function parseCustomId(customId: string): { action: MjAction; index: number | null } | undefined {
  const m = /^MJ::JOB::(upsample|variation|reroll)::(\d)::/.exec(customId);
  if (!m) return undefined;
  const action: MjAction = m[1] === 'upsample' ? 'UPSCALE' : m[1] === 'variation' ? 'VARIATION' : 'REROLL';
  return { action, index: action === 'REROLL' ? null : Number(m[2]) };
}

function taskStatus(job: MockJob<MjMeta>): { status: MjStatus; progress: string } {
  const view = viewJob(job);
  switch (view.phase) {
    case 'queued':
      return { status: 'SUBMITTED', progress: '0%' };
    case 'running':
      return { status: 'IN_PROGRESS', progress: `${Math.floor(view.fraction * 100)}%` };
    case 'succeeded':
      return { status: 'SUCCESS', progress: '100%' };
    case 'failed':
      // the proxy's Task.fail() empties the progress
      return { status: 'FAILURE', progress: '' };
  }
}

function taskObject(job: MockJob<MjMeta>, port: number | undefined) {
  const view = viewJob(job);
  const { status, progress } = taskStatus(job);
  const success = status === 'SUCCESS';
  const properties: Record<string, string> = { finalPrompt: job.meta.finalPrompt, discordInstanceId: 'mock' };
  if (job.meta.notifyHook) properties.notifyHook = job.meta.notifyHook;
  if (job.meta.parentId) properties.relatedTaskId = job.meta.parentId;
  return {
    id: job.id,
    action: job.meta.action,
    prompt: job.prompt,
    promptEn: job.prompt,
    description: job.meta.description,
    state: job.meta.state,
    submitTime: job.submittedAt,
    // the proxy starts a task (status SUBMITTED) as soon as it hands it to Discord
    startTime: job.submittedAt,
    finishTime: view.finishedAt,
    imageUrl: success ? `http://127.0.0.1:${port}/_mock/files/${job.id}.png` : null,
    status,
    progress,
    failReason: status === 'FAILURE' ? FORCED_FAILURE_REASON : null,
    buttons: success && GRID_ACTIONS.includes(job.meta.action) ? gridButtons(job.id) : [],
    properties,
  };
}

export function registerMidjourney(app: FastifyInstance, state: MockState): void {
  const tasks = new JobStore<MjMeta>(state.jobs, 'midjourney');

  /** 16 digits, like the proxy's ids */
  const newTaskId = (): string => {
    for (;;) {
      const id = Array.from(randomBytes(16), (b, i) => (i === 0 ? 1 + (b % 9) : b % 10)).join('');
      if (!state.jobs.has(id)) return id;
    }
  };

  /** Applies the prompt's latency and submit_status, then creates the task; answers the submission. */
  async function submit(reply: FastifyReply, prompt: string, meta: MjMeta) {
    const plan = planJob(prompt, state.latencyMs);
    if (plan.latencyMs > 0) await sleep(plan.latencyMs);
    if (plan.submitStatus !== undefined) return mjError(reply, plan.submitStatus, 'mock forced status');
    const job = tasks.create(newTaskId(), prompt, plan, meta);
    return { code: MJ_CODE.SUCCESS, description: 'Submit success', result: job.id, properties: { discordInstanceId: 'mock' } };
  }

  /** UPSCALE, VARIATION or REROLL of a finished grid, with the checks the proxy makes. */
  async function change(reply: FastifyReply, parentId: unknown, action: MjAction, index: number | null, body: SubmitCommon) {
    if (typeof parentId !== 'string' || parentId.length === 0) return submitFailure(MJ_CODE.VALIDATION_ERROR, 'taskId cannot be empty');
    if (action !== 'REROLL' && (index === null || !Number.isInteger(index) || index < 1 || index > 4)) {
      return submitFailure(MJ_CODE.VALIDATION_ERROR, 'index must be an integer from 1 to 4');
    }
    const parent = tasks.get(parentId);
    if (!parent) return submitFailure(MJ_CODE.NOT_FOUND, 'task not found');
    if (taskStatus(parent).status !== 'SUCCESS') return submitFailure(MJ_CODE.VALIDATION_ERROR, 'task status error: the task has not succeeded');
    if (!GRID_ACTIONS.includes(parent.meta.action)) return submitFailure(MJ_CODE.VALIDATION_ERROR, 'task does not allow changes');
    const description = `/up ${parentId} ${action === 'REROLL' ? 'R' : `${action[0]}${index}`}`;
    return submit(reply, parent.prompt, {
      action,
      description,
      state: optionalText(body.state),
      notifyHook: optionalText(body.notifyHook),
      parentId,
      finalPrompt: parent.meta.finalPrompt,
    });
  }

  app.register(async (scope) => {
    scope.setErrorHandler(mjErrorHandler);
    scope.addHook('onRequest', async (req, reply) => {
      const secret = req.headers['mj-api-secret'];
      if (typeof secret !== 'string' || secret.length === 0) return mjError(reply, 401, 'unauthorized');
    });

    scope.post('/mj/submit/imagine', async (req: FastifyRequest<{ Body: ImagineBody }>, reply) => {
      const body = req.body ?? {};
      state.record('midjourney', req);
      if (typeof body.prompt !== 'string' || body.prompt.trim().length === 0) return submitFailure(MJ_CODE.VALIDATION_ERROR, 'prompt cannot be empty');
      if (body.base64Array !== undefined && !(Array.isArray(body.base64Array) && body.base64Array.every((s) => typeof s === 'string'))) {
        return submitFailure(MJ_CODE.VALIDATION_ERROR, 'base64Array must be an array of data URLs');
      }
      return submit(reply, body.prompt, {
        action: 'IMAGINE',
        description: `/imagine ${body.prompt}`,
        state: optionalText(body.state),
        notifyHook: optionalText(body.notifyHook),
        parentId: null,
        finalPrompt: body.prompt,
      });
    });

    scope.post('/mj/submit/change', async (req: FastifyRequest<{ Body: ChangeBody }>, reply) => {
      const body = req.body ?? {};
      state.record('midjourney', req);
      if (!isChangeAction(body.action)) return submitFailure(MJ_CODE.VALIDATION_ERROR, 'action must be UPSCALE, VARIATION or REROLL');
      return change(reply, body.taskId, body.action, typeof body.index === 'number' ? body.index : null, body);
    });

    scope.post('/mj/submit/action', async (req: FastifyRequest<{ Body: ActionBody }>, reply) => {
      const body = req.body ?? {};
      state.record('midjourney', req);
      const parsed = typeof body.customId === 'string' ? parseCustomId(body.customId) : undefined;
      if (!parsed) return submitFailure(MJ_CODE.VALIDATION_ERROR, 'customId is not a button the mock knows (upsample, variation, reroll)');
      return change(reply, body.taskId, parsed.action, parsed.index, body);
    });

    scope.get('/mj/task/:id/fetch', async (req: FastifyRequest<TaskRoute>, reply) => {
      state.record('midjourney', req);
      const job = tasks.get(req.params.id);
      // the real proxy answers 200 with an empty body; 404 is clearer
      if (!job) return mjError(reply, 404, 'task not found');
      if ((await pollJob(job)) === 'transient_error') return mjError(reply, 503, TRANSIENT_ERROR_MESSAGE);
      return taskObject(job, req.socket.localPort);
    });
  });
}
