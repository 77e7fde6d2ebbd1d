import { adminCall, newAccount, startGateway, type StartedGateway } from './support/gateway';

// The BullMQ dashboard (bull-board) at /admin/queues: behind the admin token (basic auth for a browser,
// Bearer for scripts), read-only by default, listing every task queue with its counts and jobs. The JSON
// counts at GET /admin/queues stay for clients that do not ask for HTML.

const QUEUES = ['tasks-image', 'tasks-mj', 'tasks-video'];
const FINANCE = 'queues-ui-e2e-finance-token';
const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const basic = (password: string, user = 'ops') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface BoardQueue {
  name: string;
  counts: Record<string, number>;
  jobs: Array<{ id: string; name: string; data: { task_id: string } }>;
  readOnlyMode: boolean;
}

describe('queue dashboard at /admin/queues', () => {
  let g: StartedGateway;
  let taskId = '';
  let key = '';

  beforeAll(async () => {
    g = await startGateway({ FINANCE_TOKEN: FINANCE });
    expect((await adminCall(g, 'POST', '/admin/models', { id: 'video-ui', kind: 'video', pricing: { per_second_micros: 1000 } })).status).toBe(201);
    const channel = { name: 'video-ui', provider: 'openai', base_url: `${g.mockBase}/v1`, api_key: 'upstream-secret', models: { 'video-ui': 'sora-2' } };
    expect((await adminCall(g, 'POST', '/admin/channels', channel)).status).toBe(201);
    key = (await newAccount(g, 10_000_000)).key;
    const r = await fetch(`${g.base}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'video-ui', prompt: 'a queue dashboard [[mock:duration_ms=500]]', seconds: 4 }),
    });
    const body = (await r.json()) as { id: string };
    expect([r.status, body]).toEqual([202, expect.objectContaining({ id: expect.any(String) })]);
    taskId = body.id;
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
  }, 30_000);

  it('asks a browser for credentials: 401 with a basic-auth challenge, without or with a wrong token', async () => {
    const none = await fetch(`${g.base}/admin/queues`, { headers: HTML });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await fetch(`${g.base}/admin/queues`, { headers: { ...HTML, authorization: basic('not-the-admin-token') } })).status).toBe(401);
    expect((await fetch(`${g.base}/admin/queues/api/queues`)).status).toBe(401);
    expect((await fetch(`${g.base}/admin/queues/api/queues`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    // the JSON route of the same path keeps its own guard
    expect((await fetch(`${g.base}/admin/queues`)).status).toBe(401);
  });

  it('serves the dashboard page and its assets with the admin token (basic auth or Bearer)', async () => {
    for (const authorization of [basic(g.adminToken), `Bearer ${g.adminToken}`]) {
      const r = await fetch(`${g.base}/admin/queues`, { headers: { ...HTML, authorization } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/text\/html/);
      const html = await r.text();
      // the page's assets and API calls are relative to its base, so they stay under /admin/queues (and its auth)
      expect(html).toContain('<base href="/admin/queues/"');
      expect(html).not.toContain(g.adminToken);
      const asset = /static\/js\/main\.[^"']+\.js/.exec(html)?.[0];
      expect(asset).toBeDefined();
      expect((await fetch(`${g.base}/admin/queues/${asset}`)).status).toBe(401);
      const js = await fetch(`${g.base}/admin/queues/${asset}`, { headers: { authorization } });
      expect([js.status, js.headers.get('content-type')]).toEqual([200, expect.stringMatching(/javascript/)]);
    }
  });

  it("the dashboard's API lists every task queue with its counts, and the created task's job", async () => {
    const auth = { authorization: basic(g.adminToken) };
    const all = await fetch(`${g.base}/admin/queues/api/queues`, { headers: auth });
    expect(all.status).toBe(200);
    const queues = ((await all.json()) as { queues: BoardQueue[] }).queues;
    expect(queues.map((q) => q.name).sort()).toEqual(QUEUES);
    for (const q of queues) {
      expect(q.readOnlyMode).toBe(true);
      for (const s of ['active', 'waiting', 'completed', 'failed', 'delayed']) expect(typeof q.counts[s]).toBe('number');
    }
    const video = queues.find((q) => q.name === 'tasks-video')!;
    expect(Object.values(video.counts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);

    const one = await fetch(`${g.base}/admin/queues/api/queues?activeQueue=tasks-video&status=latest&page=1&jobsPerPage=50`, { headers: auth });
    expect(one.status).toBe(200);
    const jobs = ((await one.json()) as { queues: BoardQueue[] }).queues.find((q) => q.name === 'tasks-video')!.jobs;
    const job = jobs.find((j) => j.id === taskId);
    expect(job).toMatchObject({ id: taskId, name: 'video', data: { task_id: taskId } });

    const single = await fetch(`${g.base}/admin/queues/api/queues/tasks-video/${taskId}`, { headers: auth });
    expect(single.status).toBe(200);
  });

  it('is read-only by default: no queue changes through the dashboard', async () => {
    const r = await fetch(`${g.base}/admin/queues/api/queues/tasks-video/pause`, { method: 'PUT', headers: { authorization: basic(g.adminToken) } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    const q = await fetch(`${g.base}/admin/queues/api/queues`, { headers: { authorization: basic(g.adminToken) } });
    const video = ((await q.json()) as { queues: Array<BoardQueue & { isPaused: boolean }> }).queues.find((x) => x.name === 'tasks-video')!;
    expect(video.isPaused).toBe(false);
  });

  it('the read-only finance token may view the dashboard but change nothing', async () => {
    const page = await fetch(`${g.base}/admin/queues`, { headers: { ...HTML, authorization: basic(FINANCE) } });
    expect(page.status).toBe(200);
    expect((await fetch(`${g.base}/admin/queues/api/queues`, { headers: { authorization: basic(FINANCE) } })).status).toBe(200);
    const r = await fetch(`${g.base}/admin/queues/api/queues/tasks-video/pause`, { method: 'PUT', headers: { authorization: basic(FINANCE) } });
    expect(r.status).toBe(403);
  });

  it('shows the job as completed once the worker finished the task', async () => {
    for (let i = 0; ; i++) {
      const t = (await (await fetch(`${g.base}/v1/tasks/${taskId}`, { headers: { authorization: `Bearer ${key}` } })).json()) as { status: string };
      if (t.status === 'succeeded') break;
      if (i > 200) throw new Error(`task not finished: ${JSON.stringify(t)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // the worker writes the task's success before BullMQ moves its job to completed: the board shows it a moment later
    let video: BoardQueue | undefined;
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`${g.base}/admin/queues/api/queues?activeQueue=tasks-video&status=completed&page=1&jobsPerPage=50`, { headers: { authorization: basic(g.adminToken) } });
      video = ((await r.json()) as { queues: BoardQueue[] }).queues.find((q) => q.name === 'tasks-video')!;
      if (video.counts.completed >= 1) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(video!.counts.completed).toBeGreaterThanOrEqual(1);
    expect(video!.jobs.map((j) => j.id)).toContain(taskId);
  }, 30_000);

  it('GET /admin/queues without Accept: text/html is still the JSON counts endpoint', async () => {
    const r = await adminCall<{ data: Array<{ queue: string }> }>(g, 'GET', '/admin/queues');
    expect(r.status).toBe(200);
    expect(r.json.data.map((x) => x.queue).sort()).toEqual(QUEUES);
  });
});
