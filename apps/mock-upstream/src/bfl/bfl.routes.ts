import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, randomUUID } from 'node:crypto';
import { sleep } from '../directives';
import { FORCED_FAILURE_REASON, JobStore, TRANSIENT_ERROR_MESSAGE, planJob, pollJob, viewJob, type MockJob } from '../jobs';
import type { MockState } from '../state';

// Black Forest Labs' async image API: POST /v1/<model> (e.g. /v1/flux-pro-1.1) submits, and the returned
// polling_url (GET /v1/get_result?id=...) polls. Authentication is the `x-key` header; errors are
// FastAPI's `{detail}`. The submit route only matches model names starting with "flux", so that every
// other /v1/* path stays OpenAI's (its routes, or its 404 from the root not-found handler).

export type BflStatus = 'Task not found' | 'Pending' | 'Request Moderated' | 'Content Moderated' | 'Ready' | 'Error';

interface BflMeta {
  model: string;
  seed: number;
  width: number | null;
  height: number | null;
}

interface SubmitBody {
  prompt?: unknown;
  width?: unknown;
  height?: unknown;
  seed?: unknown;
}

interface SubmitRoute {
  Params: { model: string };
  Body: SubmitBody;
}

interface ResultRoute {
  Querystring: { id?: string };
}

interface ValidationIssue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

export function bflError(reply: FastifyReply, status: number, detail: string | ValidationIssue[]) {
  return reply.code(status).send({ detail });
}

function bflErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  return bflError(reply, err.statusCode ?? 500, err.message);
}

/** BFL's bounds for width and height: a multiple of 32 from 256 to 1440 */
function dimensionIssue(name: 'width' | 'height', value: unknown): ValidationIssue | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) return { loc: ['body', name], msg: 'Input should be a valid integer', type: 'int_type' };
  if (value < 256 || value > 1440 || value % 32 !== 0) return { loc: ['body', name], msg: 'Input should be a multiple of 32 between 256 and 1440', type: 'value_error' };
  return undefined;
}

const seedOf = (id: string): number => createHash('sha1').update(id).digest().readUInt32BE(0);

function resultObject(job: MockJob<BflMeta>, port: number | undefined) {
  const view = viewJob(job);
  const base = { id: job.id, details: null, preview: null };
  switch (view.phase) {
    case 'queued':
    case 'running':
      return { ...base, status: 'Pending' satisfies BflStatus, result: null, progress: Math.floor(view.fraction * 100) / 100 };
    case 'failed':
      return { ...base, status: 'Error' satisfies BflStatus, result: null, progress: null, details: { error: FORCED_FAILURE_REASON } };
    case 'succeeded': {
      const start = (view.startedAt ?? job.submittedAt) / 1000;
      const end = (view.finishedAt ?? job.submittedAt) / 1000;
      const result = {
        sample: `http://127.0.0.1:${port}/_mock/files/${job.id}.png`,
        prompt: job.prompt,
        seed: job.meta.seed,
        start_time: start,
        end_time: end,
        duration: end - start,
      };
      return { ...base, status: 'Ready' satisfies BflStatus, result, progress: null };
    }
  }
}

export function registerBfl(app: FastifyInstance, state: MockState): void {
  const requests = new JobStore<BflMeta>(state.jobs, 'bfl');

  app.register(async (scope) => {
    scope.setErrorHandler(bflErrorHandler);
    scope.addHook('onRequest', async (req, reply) => {
      const key = req.headers['x-key'];
      if (typeof key !== 'string' || key.length === 0) return bflError(reply, 403, 'Not authenticated');
    });

    // a regex parameter: only /v1/flux*, so that /v1/<anything else> stays OpenAI's
    scope.post('/v1/:model(^flux[\\w.-]*$)', async (req: FastifyRequest<SubmitRoute>, reply) => {
      const body = req.body ?? {};
      state.record('bfl', req);
      if (typeof body.prompt !== 'string' || body.prompt.length === 0) {
        return bflError(reply, 422, [{ loc: ['body', 'prompt'], msg: 'field required', type: 'missing' }]);
      }
      const issues = [dimensionIssue('width', body.width), dimensionIssue('height', body.height)].filter((i): i is ValidationIssue => i !== undefined);
      if (body.seed !== undefined && body.seed !== null && !(typeof body.seed === 'number' && Number.isInteger(body.seed))) {
        issues.push({ loc: ['body', 'seed'], msg: 'Input should be a valid integer', type: 'int_type' });
      }
      if (issues.length > 0) return bflError(reply, 422, issues);

      const plan = planJob(body.prompt, state.latencyMs);
      if (plan.latencyMs > 0) await sleep(plan.latencyMs);
      if (plan.submitStatus !== undefined) return bflError(reply, plan.submitStatus, 'mock forced status');
      const id = randomUUID();
      requests.create(id, body.prompt, plan, {
        model: req.params.model,
        seed: typeof body.seed === 'number' ? body.seed : seedOf(id),
        width: typeof body.width === 'number' ? body.width : null,
        height: typeof body.height === 'number' ? body.height : null,
      });
      return { id, polling_url: `http://127.0.0.1:${req.socket.localPort}/v1/get_result?id=${id}` };
    });

    scope.get('/v1/get_result', async (req: FastifyRequest<ResultRoute>, reply) => {
      state.record('bfl', req);
      const id = req.query.id;
      if (typeof id !== 'string' || id.length === 0) return bflError(reply, 422, [{ loc: ['query', 'id'], msg: 'field required', type: 'missing' }]);
      const job = requests.get(id);
      // BFL answers an unknown id with HTTP 200
      if (!job) return { id, status: 'Task not found' satisfies BflStatus, result: null, progress: null, details: null, preview: null };
      if ((await pollJob(job)) === 'transient_error') return bflError(reply, 503, TRANSIENT_ERROR_MESSAGE);
      return resultObject(job, req.socket.localPort);
    });
  });
}
