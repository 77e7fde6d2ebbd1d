import { randomUUID } from 'node:crypto';
import { registerStyleModels } from './support/fixtures';
import { freePort, newAccount, startGateway, type StartedGateway } from './support/gateway';
import { spawnService, stop, type Service } from './support/services';

// Rate limits shared by two ingress processes on one Redis, counted in a sliding window (issue 11): a key
// at rpm N gets N calls in any window, never more, also across what used to be a window boundary; past
// that a 429 whose Retry-After is when a slot frees. RATE_WINDOW_MS is short here so the test runs in seconds.

const WINDOW_MS = 4000;
const RPM = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rate limits across two ingress processes', () => {
  let g: StartedGateway;
  let second: Service;
  let bases: string[];
  let key: string;
  const prefix = `e2e-rl-${randomUUID()}:`;

  beforeAll(async () => {
    g = await startGateway({ RATE_WINDOW_MS: String(WINDOW_MS), REDIS_PREFIX: prefix });
    const port = await freePort();
    second = await spawnService(
      'ingress',
      {
        DATABASE_URL: process.env.DATABASE_URL as string,
        REDIS_PREFIX: prefix,
        ADMIN_TOKEN: g.adminToken,
        PORT: String(port),
        OPS_PORT: String(await freePort()),
        RATE_WINDOW_MS: String(WINDOW_MS),
        LOG_LEVEL: 'warn',
      },
      /listening/,
    );
    bases = [g.base, `http://127.0.0.1:${port}`];
    await registerStyleModels(g);
    key = (await newAccount(g, 100_000_000, { rpm: RPM })).key;
  }, 120_000);

  afterAll(async () => {
    await stop(second);
    await g?.stop();
  }, 30_000);

  const call = (i: number, stream = false) =>
    fetch(`${bases[i % 2]}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-x', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, ...(stream ? { stream: true } : {}) }),
    });

  it(`${RPM} successes across both processes, then 429 with Retry-After until a slot frees`, async () => {
    const started = Date.now();
    for (let i = 0; i < RPM; i++) {
      // every third one streamed: a stream's headers carry the counts too
      const res = await call(i, i % 3 === 2);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(i % 3 === 2 ? 'text/event-stream' : 'application/json');
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe(String(RPM));
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe(String(RPM - 1 - i));
      await res.arrayBuffer();
    }
    for (const i of [0, 1]) {
      const res = await call(i);
      expect(res.status).toBe(429);
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      const wait = Number(res.headers.get('retry-after'));
      // the first success leaves the window WINDOW_MS after it was admitted
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(Math.ceil((WINDOW_MS - (Date.now() - started)) / 1000) + 1);
      await res.arrayBuffer();
    }
    // once the Retry-After has passed, a slot is free again
    await sleep(Math.max(0, started + WINDOW_MS + 100 - Date.now()));
    const again = await call(0);
    expect(again.status).toBe(200);
    await again.arrayBuffer();
  }, 60_000);

  it('at a steady pace over several windows, no window-length span holds more than the limit', async () => {
    await sleep(WINDOW_MS + 200); // an empty window to start from
    const PACE = 300; // 4000 % 300 = 100: a freed slot is taken 200 ms after it frees, clear of timing noise
    const total = Math.ceil((2.5 * WINDOW_MS) / PACE);
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: total }, async (_, i) => {
        await sleep(Math.max(0, t0 + i * PACE - Date.now()));
        const sent = Date.now();
        const res = await call(i);
        await res.arrayBuffer();
        return { sent, status: res.status, retryAfter: res.headers.get('retry-after') };
      }),
    );
    const ok = results.filter((r) => r.status === 200).map((r) => r.sent);
    expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    for (const r of results.filter((x) => x.status === 429)) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    for (const start of ok) expect(ok.filter((t) => t >= start && t < start + WINDOW_MS).length).toBeLessThanOrEqual(RPM);
    // and the limit is used, not refused wholesale: 10 in each of the 2.5 windows' first two, and more after
    expect(ok.length).toBeGreaterThanOrEqual(2 * RPM + 1);
    expect(ok.length).toBeLessThanOrEqual(3 * RPM);
  }, 60_000);
});
