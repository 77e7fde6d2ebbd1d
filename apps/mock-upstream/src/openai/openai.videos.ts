import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hexId } from '../chat-logic';
import { sleep } from '../directives';
import { FORCED_FAILURE_REASON, JobStore, TRANSIENT_ERROR_MESSAGE, planJob, pollJob, viewJob, waitJobLatency, type MockJob } from '../jobs';
import { formText, readForm, summariseForm } from '../multipart';
import type { MockState } from '../state';
import { MOCK_MP4, MOCK_PNG } from './media-bytes';
import { openaiError, openaiForcedError } from './openai.errors';

// OpenAI's video API (Sora): POST /v1/videos creates a job, GET /v1/videos/:id polls it,
// GET /v1/videos/:id/content downloads the MP4 once completed, DELETE /v1/videos/:id removes it.
// The SDK sends the creation as multipart/form-data; JSON is accepted too.

interface VideoMeta {
  model: string;
  seconds: string;
  size: string;
}

interface VideoFields {
  model?: unknown;
  prompt?: unknown;
  seconds?: unknown;
  size?: unknown;
}

interface VideoRoute {
  Params: { id: string };
}

interface ContentRoute extends VideoRoute {
  Querystring: { variant?: string };
}

type VideoStatus = 'queued' | 'in_progress' | 'completed' | 'failed';

const SECONDS = ['4', '8', '12'];
const SIZE = /^\d{2,5}x\d{2,5}$/;
const toUnix = (ms: number) => Math.floor(ms / 1000);

export function videoObject(job: MockJob<VideoMeta>, now = Date.now()) {
  const view = viewJob(job, now);
  const status: VideoStatus = view.phase === 'queued' ? 'queued' : view.phase === 'running' ? 'in_progress' : view.phase === 'succeeded' ? 'completed' : 'failed';
  return {
    id: job.id,
    object: 'video',
    model: job.meta.model,
    status,
    progress: Math.min(100, Math.floor(view.fraction * 100)),
    created_at: toUnix(job.submittedAt),
    completed_at: view.finishedAt === null ? null : toUnix(view.finishedAt),
    expires_at: null,
    prompt: job.prompt,
    seconds: job.meta.seconds,
    size: job.meta.size,
    error: status === 'failed' ? { code: 'video_generation_failed', message: FORCED_FAILURE_REASON } : null,
    remixed_from_video_id: null,
  };
}

/** The fields of a JSON or multipart body, and what the request log keeps of it. */
async function videoFields(req: FastifyRequest): Promise<{ fields: VideoFields; logged: unknown }> {
  const form = await readForm(req);
  if (form) {
    return { fields: { model: formText(form, 'model'), prompt: formText(form, 'prompt'), seconds: formText(form, 'seconds'), size: formText(form, 'size') }, logged: summariseForm(form) };
  }
  const body: unknown = req.body;
  return { fields: body !== null && typeof body === 'object' ? (body as VideoFields) : {}, logged: body };
}

const notFound = (reply: FastifyReply, id: string) => openaiError(reply, 404, `Video with id '${id}' not found.`, 'invalid_request_error', null, 'video_not_found');

export function registerOpenAIVideos(scope: FastifyInstance, state: MockState): void {
  const videos = new JobStore<VideoMeta>(state.jobs, 'openai');

  scope.post('/v1/videos', async (req, reply) => {
    const { fields, logged } = await videoFields(req);
    state.record('openai', req, logged);
    const { prompt, model = 'sora-2', seconds = '4', size = '720x1280' } = fields;
    if (typeof prompt !== 'string' || prompt.length === 0) return openaiError(reply, 400, "Missing required parameter: 'prompt'.", 'invalid_request_error', 'prompt');
    if (typeof model !== 'string' || model.length === 0) return openaiError(reply, 400, "Invalid type for 'model': expected a string.", 'invalid_request_error', 'model');
    const secondsText = typeof seconds === 'number' ? String(seconds) : seconds;
    if (typeof secondsText !== 'string' || !SECONDS.includes(secondsText)) {
      return openaiError(reply, 400, `Invalid value: '${String(seconds)}'. Supported values are: '4', '8', and '12'.`, 'invalid_request_error', 'seconds', 'invalid_value');
    }
    if (typeof size !== 'string' || !SIZE.test(size)) return openaiError(reply, 400, `Invalid value: '${String(size)}'. Expected WIDTHxHEIGHT, e.g. '1280x720'.`, 'invalid_request_error', 'size', 'invalid_value');

    const plan = planJob(prompt, state.latencyMs);
    if (plan.latencyMs > 0) await sleep(plan.latencyMs);
    if (plan.submitStatus !== undefined) return openaiForcedError(reply, plan.submitStatus);
    const job = videos.create(`video_${hexId(24)}`, prompt, plan, { model, seconds: secondsText, size });
    return videoObject(job);
  });

  scope.get('/v1/videos', async (req) => {
    state.record('openai', req);
    const data = videos.list().reverse().map((job) => videoObject(job));
    return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false };
  });

  scope.get('/v1/videos/:id', async (req: FastifyRequest<VideoRoute>, reply) => {
    state.record('openai', req);
    const job = videos.get(req.params.id);
    if (!job) return notFound(reply, req.params.id);
    if ((await pollJob(job)) === 'transient_error') return openaiError(reply, 503, TRANSIENT_ERROR_MESSAGE, 'server_error');
    return videoObject(job);
  });

  scope.get('/v1/videos/:id/content', async (req: FastifyRequest<ContentRoute>, reply) => {
    state.record('openai', req);
    const job = videos.get(req.params.id);
    if (!job) return notFound(reply, req.params.id);
    const variant = req.query.variant ?? 'video';
    if (variant !== 'video' && variant !== 'thumbnail' && variant !== 'spritesheet') {
      return openaiError(reply, 400, `Invalid value: '${variant}'. Supported values are: 'video', 'thumbnail', and 'spritesheet'.`, 'invalid_request_error', 'variant');
    }
    await waitJobLatency(job);
    const { status } = videoObject(job);
    if (status !== 'completed') return openaiError(reply, 409, `Video is not ready: its status is '${status}'.`, 'invalid_request_error', null, 'video_not_ready');
    // thumbnails and spritesheets are the mock's PNG (the real API serves webp and jpeg)
    return variant === 'video' ? reply.type('video/mp4').send(MOCK_MP4) : reply.type('image/png').send(MOCK_PNG);
  });

  // the gateway's cancel: the mock deletes a video in any state (the real API documents deleting finished ones)
  scope.delete('/v1/videos/:id', async (req: FastifyRequest<VideoRoute>, reply) => {
    state.record('openai', req);
    const job = videos.get(req.params.id);
    if (!job) return notFound(reply, req.params.id);
    await waitJobLatency(job);
    videos.delete(job.id);
    return { id: job.id, object: 'video.deleted', deleted: true };
  });
}
