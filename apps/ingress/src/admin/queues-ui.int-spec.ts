import { ingressConfigSchema } from '@gateway/config';
import Fastify, { type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { configureAdminTokens } from './admin.guard';
import { mountQueuesUi, presentedToken, queuesUiRole } from './queues-ui';

// The dashboard's routing and auth on a bare Fastify (with Redis for the queues): a browser's request to
// /admin/queues gets the page, any other the JSON route that shares the path.

const TOKEN = 'queues-ui-admin-token-0123';
const FINANCE = 'queues-ui-finance-token-0123';
const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

async function app(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = ingressConfigSchema.parse({ ADMIN_TOKEN: TOKEN, FINANCE_TOKEN: FINANCE, REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: `qui-${randomUUID()}:`, ...env });
  const f = Fastify();
  mountQueuesUi(f, config);
  // what AdminQueuesController registers through Nest
  f.get('/admin/queues', async () => ({ data: 'json counts' }));
  await f.ready();
  return f;
}

describe('queues UI', () => {
  it('reads the token from Bearer or basic auth, and gives it the admin API\'s role', () => {
    configureAdminTokens({ ADMIN_TOKEN: TOKEN, FINANCE_TOKEN: FINANCE });
    expect(presentedToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(presentedToken(basic(TOKEN))).toBe(TOKEN);
    expect(presentedToken('Basic !!')).toBeNull();
    expect(presentedToken(undefined)).toBeNull();
    expect(queuesUiRole(basic(TOKEN))).toBe('admin');
    expect(queuesUiRole(basic(FINANCE))).toBe('finance');
    expect(queuesUiRole(`Bearer ${FINANCE}`)).toBe('finance');
    expect(queuesUiRole(basic('x'))).toBeNull();
    expect(queuesUiRole(`Bearer ${TOKEN}x`)).toBeNull();
  });

  it('serves the page to a browser with the token, the JSON route to anyone else', async () => {
    const f = await app();
    try {
      const html = { accept: 'text/html,*/*;q=0.8' };
      const denied = await f.inject({ url: '/admin/queues', headers: html });
      expect(denied.statusCode).toBe(401);
      expect(denied.headers['www-authenticate']).toMatch(/^Basic /);
      const page = await f.inject({ url: '/admin/queues', headers: { ...html, authorization: basic(TOKEN) } });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.body).toContain('<base href="/admin/queues/"');
      expect(page.body).toContain('static/js/main.');
      expect((await f.inject({ url: '/admin/queues' })).json()).toEqual({ data: 'json counts' });
      expect((await f.inject({ method: 'HEAD', url: '/admin/queues' })).statusCode).toBe(200);
      const api = await f.inject({ url: '/admin/queues/api/queues', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(api.statusCode).toBe(200);
      expect(api.json().queues.map((q: { name: string; readOnlyMode: boolean }) => [q.name, q.readOnlyMode])).toEqual([
        ['tasks-video', true],
        ['tasks-mj', true],
        ['tasks-image', true],
      ]);
      expect((await f.inject({ method: 'PUT', url: '/admin/queues/api/queues/tasks-video/pause', headers: { authorization: basic(TOKEN) } })).statusCode).toBeGreaterThanOrEqual(400);
    } finally {
      await f.close();
    }
  });

  it('QUEUE_UI_WRITE=on lets the admin token change queues, never the finance token; QUEUE_UI=off mounts nothing', async () => {
    const w = await app({ QUEUE_UI_WRITE: 'on' });
    try {
      const api = await w.inject({ url: '/admin/queues/api/queues', headers: { authorization: basic(TOKEN) } });
      expect(api.json().queues.every((q: { readOnlyMode: boolean }) => !q.readOnlyMode)).toBe(true);
      expect((await w.inject({ url: '/admin/queues/api/queues', headers: { authorization: basic(FINANCE) } })).statusCode).toBe(200);
      const pause = (authorization: string) => w.inject({ method: 'PUT', url: '/admin/queues/api/queues/tasks-video/pause', headers: { authorization } });
      expect((await pause(basic(FINANCE))).statusCode).toBe(403);
      expect((await pause(basic(TOKEN))).statusCode).toBe(200);
      const paused = await w.inject({ url: '/admin/queues/api/queues', headers: { authorization: basic(TOKEN) } });
      expect(paused.json().queues.find((q: { name: string }) => q.name === 'tasks-video').isPaused).toBe(true);
    } finally {
      await w.close();
    }
    const off = await app({ QUEUE_UI: 'off' });
    try {
      expect((await off.inject({ url: '/admin/queues', headers: { accept: 'text/html', authorization: basic(TOKEN) } })).json()).toEqual({ data: 'json counts' });
      expect((await off.inject({ url: '/admin/queues/api/queues', headers: { authorization: basic(TOKEN) } })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});
