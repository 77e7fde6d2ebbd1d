import OpenAI, { APIError as OpenAIAPIError } from 'openai';
import { mockUpstreamConfigSchema, parseConfig } from '@gateway/config';
import { viewJob } from './jobs';
import { startMockUpstream } from './server';

// The async-job upstreams of the mock (OpenAI videos, midjourney-proxy, Black Forest Labs): submit, poll
// to the end, and the directives that steer a job (duration, failure, submit status, flaky polls, latency).

const SHORT = '[[mock:duration_ms=300]]';
const POLL_MS = 20;

interface JobRow {
  id: string;
  provider: string;
  polls: number;
  phase: string;
}

interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface VideoBody {
  id: string;
  object: string;
  model: string;
  status: string;
  progress: number;
  created_at: number;
  completed_at: number | null;
  expires_at: number | null;
  seconds: string;
  size: string;
  error: { code: string; message: string } | null;
  remixed_from_video_id: string | null;
}

interface MjSubmit {
  code: number;
  description: string;
  result: string | null;
  properties: Record<string, string>;
}

interface MjButton {
  customId: string;
  emoji: string;
  label: string;
  type: number;
  style: number;
}

interface MjTask {
  id: string;
  action: string;
  prompt: string;
  promptEn: string;
  description: string;
  state: string | null;
  submitTime: number;
  startTime: number | null;
  finishTime: number | null;
  imageUrl: string | null;
  status: string;
  progress: string;
  failReason: string | null;
  buttons: MjButton[];
  properties: { finalPrompt: string };
}

interface MjError {
  code: number;
  description: string;
}

interface BflSubmit {
  id: string;
  polling_url: string;
}

interface BflResult {
  id: string;
  status: string;
  result: { sample: string; prompt: string; seed: number; start_time: number; end_time: number; duration: number } | null;
  progress: number | null;
  details: { error: string } | null;
}

interface BflDetail {
  detail: string | Array<{ loc: Array<string | number>; msg: string; type: string }>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function call<T>(res: Promise<Response>): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await res;
  return { status: r.status, body: (await r.json()) as T, headers: r.headers };
}

/** Polls until `done`, returning every answer seen; fails the test past the timeout. */
async function pollUntil<T>(poll: () => Promise<T>, done: (t: T) => boolean, timeoutMs = 4000): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = await poll();
    seen.push(t);
    if (done(t)) return seen;
    if (Date.now() > deadline) throw new Error(`still not done after ${timeoutMs} ms: ${JSON.stringify(t)}`);
    await sleep(POLL_MS);
  }
}

/** The sequence without consecutive repeats: queued, queued, in_progress -> queued, in_progress. */
const distinct = (xs: readonly string[]): string[] => xs.filter((x, i) => i === 0 || x !== xs[i - 1]);

const nonDecreasing = (xs: readonly number[]): boolean => xs.every((x, i) => i === 0 || x >= xs[i - 1]);

describe('mock upstream async jobs', () => {
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let url: string;
  let openai: OpenAI;

  const jobRow = async (id: string): Promise<JobRow | undefined> => {
    const { body } = await call<{ data: JobRow[] }>(fetch(`${url}/_mock/jobs`));
    return body.data.find((j) => j.id === id);
  };

  beforeAll(async () => {
    mock = await startMockUpstream(parseConfig(mockUpstreamConfigSchema, { MOCK_PORT: '0' }));
    url = mock.url;
    openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await mock?.app.close();
  });

  it('computes a job state from its submission time and the clock alone', () => {
    const job = { submittedAt: 1_000_000, plan: { durationMs: 1000, fail: false, flakyPolls: 0, latencyMs: 0 } };
    expect(viewJob(job, 1_000_000)).toEqual({ phase: 'queued', fraction: 0, startedAt: null, finishedAt: null });
    expect(viewJob(job, 1_000_099).phase).toBe('queued');
    expect(viewJob(job, 1_000_100)).toEqual({ phase: 'running', fraction: 0.1, startedAt: 1_000_100, finishedAt: null });
    expect(viewJob(job, 1_000_500).fraction).toBe(0.5);
    expect(viewJob(job, 1_001_000)).toEqual({ phase: 'succeeded', fraction: 1, startedAt: 1_000_100, finishedAt: 1_001_000 });
    expect(viewJob({ ...job, plan: { ...job.plan, fail: true } }, 1_005_000).phase).toBe('failed');
  });

  describe('OpenAI videos', () => {
    const bearer = { authorization: 'Bearer sk-test' };
    const auth = { ...bearer, 'content-type': 'application/json' };
    const create = (body: object) => call<VideoBody & OpenAIErrorBody>(fetch(`${url}/v1/videos`, { method: 'POST', headers: auth, body: JSON.stringify(body) }));
    const retrieve = (id: string) => call<VideoBody & OpenAIErrorBody>(fetch(`${url}/v1/videos/${id}`, { headers: auth }));

    it('runs a video to completion through the official SDK: create, retrieve, downloadContent, delete', async () => {
      const created = await openai.videos.create({ model: 'sora-2', prompt: `A cat on a skateboard ${SHORT}`, seconds: '8', size: '1280x720' });
      expect(created).toMatchObject({ object: 'video', model: 'sora-2', status: 'queued', progress: 0, completed_at: null, error: null, seconds: '8', size: '1280x720' });
      expect(created.id).toMatch(/^video_[0-9a-f]{48}$/);
      expect(Math.abs(created.created_at - Date.now() / 1000)).toBeLessThan(5);
      // the SDK sends the creation as multipart/form-data; the log keeps its fields
      const logged = mock.state.requests.filter((r) => r.provider === 'openai' && r.method === 'POST' && r.path === '/v1/videos').at(-1);
      expect(logged?.body).toMatchObject({ model: 'sora-2', seconds: '8', size: '1280x720' });

      const seen = await pollUntil(
        () => openai.videos.retrieve(created.id),
        (v) => v.status === 'completed' || v.status === 'failed',
      );
      expect(distinct(seen.map((v) => v.status))).toEqual(expect.arrayContaining(['in_progress', 'completed']));
      expect(distinct(seen.map((v) => v.status)).at(-1)).toBe('completed');
      expect(['queued', 'in_progress', 'completed']).toEqual(expect.arrayContaining(distinct(seen.map((v) => v.status))));
      expect(nonDecreasing(seen.map((v) => v.progress))).toBe(true);
      const done = seen.at(-1);
      expect(done?.progress).toBe(100);
      expect(done?.completed_at).toEqual(expect.any(Number));
      expect(done?.error).toBeNull();

      const content = await openai.videos.downloadContent(created.id);
      expect(content.headers.get('content-type')).toBe('video/mp4');
      const bytes = Buffer.from(await content.arrayBuffer());
      expect(bytes.toString('ascii', 4, 8)).toBe('ftyp');
      expect(bytes.readUInt32BE(0)).toBeGreaterThanOrEqual(16);

      await expect(openai.videos.delete(created.id)).resolves.toEqual({ id: created.id, object: 'video.deleted', deleted: true });
      const gone = await openai.videos.retrieve(created.id).catch((e: unknown) => e);
      expect(gone).toBeInstanceOf(OpenAIAPIError);
      expect((gone as OpenAIAPIError).status).toBe(404);
    });

    it('accepts JSON with seconds as a number, defaults size, and validates seconds and prompt', async () => {
      const ok = await create({ model: 'sora-2', prompt: `x ${SHORT}`, seconds: 12 });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ seconds: '12', size: '720x1280', status: 'queued', remixed_from_video_id: null, expires_at: null });

      const defaults = await create({ prompt: `y ${SHORT}` });
      expect(defaults.body).toMatchObject({ model: 'sora-2', seconds: '4', size: '720x1280' });

      const badSeconds = await create({ model: 'sora-2', prompt: 'x', seconds: '5' });
      expect(badSeconds.status).toBe(400);
      expect(badSeconds.body.error).toMatchObject({ type: 'invalid_request_error', param: 'seconds' });

      const noPrompt = await create({ model: 'sora-2' });
      expect(noPrompt.status).toBe(400);
      expect(noPrompt.body.error.param).toBe('prompt');
    });

    it('refuses the content while the video is not completed, and after it failed with [[mock:fail=1]]', async () => {
      const { body } = await create({ model: 'sora-2', prompt: `doomed ${SHORT} [[mock:fail=1]]` });
      const early = await call<OpenAIErrorBody>(fetch(`${url}/v1/videos/${body.id}/content`, { headers: auth }));
      expect(early.status).toBe(409);
      expect(early.body.error.message).toMatch(/not ready/);

      const seen = await pollUntil(
        async () => (await retrieve(body.id)).body,
        (v) => v.status === 'completed' || v.status === 'failed',
      );
      const last = seen.at(-1);
      expect(last?.status).toBe('failed');
      expect(last?.error).toEqual({ code: 'video_generation_failed', message: 'mock forced failure' });
      expect(seen.map((v) => v.status)).not.toContain('completed');

      const after = await call<OpenAIErrorBody>(fetch(`${url}/v1/videos/${body.id}/content`, { headers: auth }));
      expect(after.status).toBe(409);
    });

    it('answers [[mock:submit_status]] in OpenAI error shape and creates nothing', async () => {
      const before = mock.state.jobs.size;
      const r = await create({ model: 'sora-2', prompt: 'x [[mock:submit_status=429]]' });
      expect(r.status).toBe(429);
      expect(r.body.error).toMatchObject({ code: 'rate_limit_exceeded', message: 'mock forced status 429' });
      const r500 = await create({ model: 'sora-2', prompt: 'x [[mock:submit_status=500]]' });
      expect(r500.status).toBe(500);
      expect(r500.body.error.type).toBe('server_error');
      expect(mock.state.jobs.size).toBe(before);
    });

    it('answers 503 to the first N polls with [[mock:flaky=N]], then works, and counts the polls', async () => {
      const { body } = await create({ model: 'sora-2', prompt: `x ${SHORT} [[mock:flaky=2]]` });
      const first = await retrieve(body.id);
      const second = await retrieve(body.id);
      const third = await retrieve(body.id);
      expect([first.status, second.status, third.status]).toEqual([503, 503, 200]);
      expect(first.body.error.type).toBe('server_error');
      expect(third.body.id).toBe(body.id);
      expect((await jobRow(body.id))?.polls).toBe(3);
    });

    it('delays the submit and every poll by [[mock:latency]]', async () => {
      let t = performance.now();
      const { body } = await create({ model: 'sora-2', prompt: `x ${SHORT} [[mock:latency=150]]` });
      expect(performance.now() - t).toBeGreaterThanOrEqual(140);
      t = performance.now();
      expect((await retrieve(body.id)).status).toBe(200);
      expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    });

    it('answers 401 without a key and 404 for an unknown or deleted id, in OpenAI shape', async () => {
      const noKey = await call<OpenAIErrorBody>(fetch(`${url}/v1/videos`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' }));
      expect(noKey.status).toBe(401);
      expect(noKey.body.error.type).toBe('invalid_request_error');
      const unknown = await retrieve('video_nope');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('video_not_found');
      const del = await call<OpenAIErrorBody>(fetch(`${url}/v1/videos/video_nope`, { method: 'DELETE', headers: bearer }));
      expect(del.status).toBe(404);
    });

    it('cancels (deletes) a video still in progress', async () => {
      const { body } = await create({ model: 'sora-2', prompt: 'long [[mock:duration_ms=60000]]' });
      const del = await call<{ deleted: boolean }>(fetch(`${url}/v1/videos/${body.id}`, { method: 'DELETE', headers: bearer }));
      expect(del.body.deleted).toBe(true);
      expect((await retrieve(body.id)).status).toBe(404);
      expect(await jobRow(body.id)).toBeUndefined();
    });
  });

  describe('midjourney-proxy', () => {
    const headers = { 'mj-api-secret': 'secret', 'content-type': 'application/json' };
    const post = <T>(path: string, body: object, h: Record<string, string> = headers) => call<T>(fetch(`${url}${path}`, { method: 'POST', headers: h, body: JSON.stringify(body) }));
    const imagine = (prompt: string, extra: object = {}) => post<MjSubmit & MjError>('/mj/submit/imagine', { prompt, ...extra });
    const fetchTask = (id: string) => call<MjTask & MjError>(fetch(`${url}/mj/task/${id}/fetch`, { headers }));
    const untilDone = async (id: string) =>
      (
        await pollUntil(
          () => fetchTask(id),
          (r) => r.status === 200 && (r.body.status === 'SUCCESS' || r.body.status === 'FAILURE'),
        )
      ).map((r) => r.body);
    const percent = (p: string) => Number(p.replace('%', ''));

    let finishedImagine: MjTask;

    it('submits an IMAGINE and polls it to SUCCESS with the grid buttons and an image URL', async () => {
      const submitted = await imagine(`a red fox --ar 16:9 ${SHORT}`, { state: 'user-42', notifyHook: 'http://127.0.0.1:1/hook' });
      expect(submitted.status).toBe(200);
      expect(submitted.body).toMatchObject({ code: 1, description: 'Submit success', properties: { discordInstanceId: 'mock' } });
      const id = submitted.body.result ?? '';
      expect(id).toMatch(/^\d{16}$/);

      const seen = await untilDone(id);
      const statuses = distinct(seen.map((t) => t.status));
      expect(statuses.at(-1)).toBe('SUCCESS');
      expect(statuses).toContain('IN_PROGRESS');
      expect(['SUBMITTED', 'IN_PROGRESS', 'SUCCESS']).toEqual(expect.arrayContaining(statuses));
      expect(seen.every((t) => /^\d{1,3}%$/.test(t.progress))).toBe(true);
      expect(nonDecreasing(seen.map((t) => percent(t.progress)))).toBe(true);

      const done = seen[seen.length - 1];
      expect(done).toMatchObject({ id, action: 'IMAGINE', prompt: `a red fox --ar 16:9 ${SHORT}`, state: 'user-42', progress: '100%', failReason: null });
      expect(done.properties.finalPrompt).toBe(done.prompt);
      expect(done.imageUrl).toBe(`${url}/_mock/files/${id}.png`);
      expect(done.finishTime).toBeGreaterThanOrEqual(done.submitTime);
      expect(done.buttons.map((b) => b.label)).toEqual(['U1', 'U2', 'U3', 'U4', '', 'V1', 'V2', 'V3', 'V4']);
      expect(done.buttons.every((b) => b.type === 2 && b.style === 2 && b.customId.startsWith('MJ::JOB::'))).toBe(true);
      expect(done.buttons[4].customId).toMatch(/^MJ::JOB::reroll::0::/);
      // the URL serves the mock's PNG
      const image = await fetch(done.imageUrl ?? '');
      expect(image.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await image.arrayBuffer()).subarray(1, 4).toString('ascii')).toBe('PNG');
      finishedImagine = done;
    });

    it('UPSCALEs a finished IMAGINE into a task with the parent prompt (so its directives) and no buttons', async () => {
      const up = await post<MjSubmit>('/mj/submit/change', { taskId: finishedImagine.id, action: 'UPSCALE', index: 2 });
      expect(up.body.code).toBe(1);
      const childId = up.body.result ?? '';
      expect(childId).toMatch(/^\d{16}$/);
      expect(childId).not.toBe(finishedImagine.id);
      const seen = await untilDone(childId);
      const done = seen[seen.length - 1];
      expect(done).toMatchObject({ action: 'UPSCALE', status: 'SUCCESS', prompt: finishedImagine.prompt, description: `/up ${finishedImagine.id} U2`, buttons: [] });
      expect(done.imageUrl).toBe(`${url}/_mock/files/${childId}.png`);
      // the parent's [[mock:duration_ms=300]] applies: finished well before the default 1500 ms
      expect((done.finishTime ?? 0) - done.submitTime).toBe(300);
    });

    it('runs a button through /mj/submit/action (V1 is a VARIATION)', async () => {
      const v1 = finishedImagine.buttons.find((b) => b.label === 'V1');
      const r = await post<MjSubmit>('/mj/submit/action', { taskId: finishedImagine.id, customId: v1?.customId });
      expect(r.body.code).toBe(1);
      const task = await fetchTask(r.body.result ?? '');
      expect(task.body.action).toBe('VARIATION');
    });

    it('refuses changes as the proxy does: HTTP 200 with code 3 (unknown task) or 4 (validation)', async () => {
      const unknown = await post<MjSubmit>('/mj/submit/change', { taskId: '1234567890123456', action: 'UPSCALE', index: 1 });
      expect(unknown.status).toBe(200);
      expect(unknown.body).toMatchObject({ code: 3, description: 'task not found', result: null });

      const badAction = await post<MjSubmit>('/mj/submit/change', { taskId: finishedImagine.id, action: 'ZOOM', index: 1 });
      expect(badAction.body.code).toBe(4);
      const badIndex = await post<MjSubmit>('/mj/submit/change', { taskId: finishedImagine.id, action: 'UPSCALE', index: 5 });
      expect(badIndex.body.code).toBe(4);

      const running = await imagine('slow [[mock:duration_ms=60000]]');
      const early = await post<MjSubmit>('/mj/submit/change', { taskId: running.body.result, action: 'VARIATION', index: 1 });
      expect(early.body.code).toBe(4);

      const empty = await imagine('   ');
      expect(empty.status).toBe(200);
      expect(empty.body.code).toBe(4);
    });

    it('ends in FAILURE with [[mock:fail=1]]: failReason, empty progress, no image', async () => {
      const submitted = await imagine(`broken ${SHORT} [[mock:fail=1]]`);
      const seen = await untilDone(submitted.body.result ?? '');
      const done = seen[seen.length - 1];
      expect(done).toMatchObject({ status: 'FAILURE', failReason: 'mock forced failure', progress: '', imageUrl: null, buttons: [] });
      expect(done.finishTime).toEqual(expect.any(Number));
      expect(seen.map((t) => t.status)).not.toContain('SUCCESS');
    });

    it('answers [[mock:submit_status]] at that HTTP status with {code, description}', async () => {
      const r = await imagine('x [[mock:submit_status=500]]');
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ code: 500, description: 'mock forced status' });
      const r429 = await imagine('x [[mock:submit_status=429]]');
      expect(r429.status).toBe(429);
    });

    it('answers 503 to the first N fetches with [[mock:flaky=N]]', async () => {
      const { body } = await imagine(`x ${SHORT} [[mock:flaky=1]]`);
      const id = body.result ?? '';
      const first = await fetchTask(id);
      expect(first.status).toBe(503);
      expect(first.body.code).toBe(503);
      const second = await fetchTask(id);
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(id);
      expect((await jobRow(id))?.polls).toBe(2);
    });

    it('requires mj-api-secret, answers 404 for an unknown task, and has no cancel route', async () => {
      const noSecret = await post<MjError>('/mj/submit/imagine', { prompt: 'x' }, { 'content-type': 'application/json' });
      expect(noSecret.status).toBe(401);
      expect(noSecret.body).toEqual({ code: 401, description: 'unauthorized' });
      const noSecretFetch = await call<MjError>(fetch(`${url}/mj/task/${finishedImagine.id}/fetch`));
      expect(noSecretFetch.status).toBe(401);

      const unknown = await fetchTask('999');
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ code: 404, description: 'task not found' });

      const cancel = await post<MjError>(`/mj/task/${finishedImagine.id}/cancel`, {});
      expect(cancel.status).toBe(404);
      expect(cancel.body.code).toBe(404);
    });
  });

  describe('Black Forest Labs', () => {
    const headers = { 'x-key': 'bfl-key', 'content-type': 'application/json' };
    const submit = (model: string, body: object, h: Record<string, string> = headers) => call<BflSubmit & BflDetail>(fetch(`${url}/v1/${model}`, { method: 'POST', headers: h, body: JSON.stringify(body) }));
    const result = (id: string) => call<BflResult & BflDetail>(fetch(`${url}/v1/get_result?id=${id}`, { headers }));
    const untilDone = async (pollingUrl: string) =>
      (
        await pollUntil(
          async () => (await call<BflResult>(fetch(pollingUrl, { headers }))).body,
          (r) => r.status !== 'Pending',
        )
      );

    it('submits to /v1/flux-pro-1.1 and polls the polling_url to Ready with the sample URL', async () => {
      const r = await submit('flux-pro-1.1', { prompt: `a lighthouse ${SHORT}`, width: 1024, height: 768, seed: 42 });
      expect(r.status).toBe(200);
      expect(r.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(r.body.polling_url).toBe(`${url}/v1/get_result?id=${r.body.id}`);
      expect(mock.state.requests.at(-1)).toMatchObject({ provider: 'bfl', method: 'POST', path: '/v1/flux-pro-1.1', body: { prompt: `a lighthouse ${SHORT}`, seed: 42 } });

      const seen = await untilDone(r.body.polling_url);
      expect(distinct(seen.map((s) => s.status))).toEqual(['Pending', 'Ready']);
      const pending = seen.filter((s) => s.status === 'Pending').map((s) => s.progress ?? -1);
      expect(pending.every((p) => p >= 0 && p < 1)).toBe(true);
      expect(nonDecreasing(pending)).toBe(true);

      const done = seen[seen.length - 1];
      expect(done.progress).toBeNull();
      expect(done.result).toMatchObject({ sample: `${url}/_mock/files/${r.body.id}.png`, prompt: `a lighthouse ${SHORT}`, seed: 42 });
      expect(done.result?.end_time).toBeGreaterThan(done.result?.start_time ?? Infinity);
      expect(done.result?.duration).toBeCloseTo(0.27, 5);
      const image = await fetch(done.result?.sample ?? '');
      expect(image.status).toBe(200);
    });

    it('ends in Error with [[mock:fail=1]]', async () => {
      const r = await submit('flux-dev', { prompt: `x ${SHORT} [[mock:fail=1]]` });
      const seen = await untilDone(r.body.polling_url);
      expect(seen[seen.length - 1]).toMatchObject({ id: r.body.id, status: 'Error', result: null, details: { error: 'mock forced failure' } });
    });

    it('answers submit_status, 422 without a prompt or with a bad size, and Task not found for an unknown id', async () => {
      const forced = await submit('flux-pro-1.1', { prompt: 'x [[mock:submit_status=429]]' });
      expect(forced.status).toBe(429);
      expect(forced.body).toEqual({ detail: 'mock forced status' });

      const noPrompt = await submit('flux-pro-1.1', { width: 1024 });
      expect(noPrompt.status).toBe(422);
      expect(noPrompt.body).toEqual({ detail: [{ loc: ['body', 'prompt'], msg: 'field required', type: 'missing' }] });
      const badWidth = await submit('flux-pro-1.1', { prompt: 'x', width: 1000 });
      expect(badWidth.status).toBe(422);

      const unknown = await result('00000000-0000-0000-0000-000000000000');
      expect(unknown.status).toBe(200);
      expect(unknown.body).toMatchObject({ status: 'Task not found', result: null });
    });

    it('answers 503 to the first N polls with [[mock:flaky=N]]', async () => {
      const r = await submit('flux-pro-1.1', { prompt: `x ${SHORT} [[mock:flaky=2]]` });
      const polls = [await result(r.body.id), await result(r.body.id), await result(r.body.id)];
      expect(polls.map((p) => p.status)).toEqual([503, 503, 200]);
      expect(polls[0].body.detail).toBe('mock transient error');
      expect(polls[2].body.status).toBe('Pending');
    });

    it('requires x-key on submit and poll (403 Not authenticated)', async () => {
      const noKey = await submit('flux-pro-1.1', { prompt: 'x' }, { 'content-type': 'application/json' });
      expect(noKey.status).toBe(403);
      expect(noKey.body).toEqual({ detail: 'Not authenticated' });
      const poll = await call<BflDetail>(fetch(`${url}/v1/get_result?id=x`, { headers: { authorization: 'Bearer sk-test' } }));
      expect(poll.status).toBe(403);
    });
  });

  describe('route coexistence under /v1', () => {
    const openaiHeaders = { authorization: 'Bearer sk-test', 'content-type': 'application/json' };

    it('keeps OpenAI routes and its 404 while BFL serves /v1/flux* and /v1/get_result', async () => {
      expect((await openai.models.list()).data.map((m) => m.id)).toContain('gpt-4o-mini');
      const chat = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
      expect(chat.choices[0].message.content).toBe('This is a deterministic mock reply to: Hi');
      const emb = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
      expect(emb.data[0].embedding).toHaveLength(8);
      const videos = await call<{ object: string; data: VideoBody[] }>(fetch(`${url}/v1/videos`, { headers: openaiHeaders }));
      expect(videos.body.object).toBe('list');

      // a non-flux model name is not BFL's: OpenAI's 404 shape, whatever the headers
      const other = await call<OpenAIErrorBody>(fetch(`${url}/v1/sd-xl`, { method: 'POST', headers: { ...openaiHeaders, 'x-key': 'k' }, body: '{"prompt":"x"}' }));
      expect(other.status).toBe(404);
      expect(other.body.error.message).toContain('POST /v1/sd-xl');
      // a flux path with an OpenAI key only is BFL's and refused in BFL's shape
      const flux = await call<BflDetail>(fetch(`${url}/v1/flux-pro-1.1`, { method: 'POST', headers: openaiHeaders, body: '{"prompt":"x"}' }));
      expect(flux.status).toBe(403);
      expect(flux.body.detail).toBe('Not authenticated');
    });
  });
});
