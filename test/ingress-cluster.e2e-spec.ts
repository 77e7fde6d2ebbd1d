import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { books, expectInvariants, testPrisma, usageRecordOf } from './support/db';
import { metric, scrape } from './support/metrics';
import { freePort, resetTestDatabase } from './support/gateway';
import { readToEnd, spawnService, stop, type Service } from './support/services';

// Ingress with INGRESS_WORKERS=2: a primary forks two workers that share the public port. Shown here with
// real processes, Redis and Postgres: calls on fresh connections are answered by both workers and every
// one is charged once (credit leases and the outbox are shared through Redis); /metrics on the primary's
// ops port is the workers' sum; a worker killed with SIGKILL is forked again, calls go on, and the
// counters keep what the dead worker had counted; SIGTERM drains both workers (a running stream ends with
// [DONE] and is charged) and the primary exits 0.

const ADMIN = 'cluster-test-admin-token';
const GRACE_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  body: string;
}

/** one call on a connection of its own, so the primary hands each to the next worker in turn */
function post(port: number, key: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('ingress as a cluster (INGRESS_WORKERS=2)', () => {
  const prisma = testPrisma(2);
  const services: Service[] = [];
  let port = 0;
  let mockPort = 0;
  let opsPort = 0;
  let ingress: Service;
  let key = '';
  let accountId = '';
  const prefix = `cluster-${randomUUID()}:`;
  const env = () => ({
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: process.env.REDIS_URL as string,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN: ADMIN,
    PORT: String(port),
    MOCK_PORT: String(mockPort),
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
    // leases closed a second after their window opens, holds living 2 s unless extended (every 250 ms) and
    // swept every 100 ms: the books can be seen with nothing held within seconds, as in credit-lease.e2e-spec
    LEASE_DRAW_MS: '1000',
    HOLD_TTL_MS: '2000',
    HOLD_EXTEND_INTERVAL_MS: '250',
    SWEEP_INTERVAL_MS: '100',
  });
  const metrics = () => scrape(`http://127.0.0.1:${opsPort}`);
  const ops = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${opsPort}${path}`);
    return { status: r.status, text: await r.text() };
  };
  /** pids of the processes whose access lines answered chat calls so far */
  const servingPids = (from = 0) => {
    const pids = new Set<number>();
    for (const line of ingress.output.slice(from)) {
      if (!line.includes('"msg":"access"') || !line.includes('/v1/chat/completions')) continue;
      pids.add((JSON.parse(line) as { pid: number }).pid);
    }
    return pids;
  };
  const listeningPids = () => ingress.output.filter((l) => l.includes('ingress worker listening')).map((l) => (JSON.parse(l) as { worker_pid: number }).worker_pid);
  const calls = async (n: number) => {
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => post(port, key, { model: 'cluster-model', messages: [{ role: 'user', content: `call ${i}` }] })));
    return answers.map((a) => a.status);
  };

  beforeAll(async () => {
    await resetTestDatabase();
    [port, mockPort, opsPort] = [await freePort(), await freePort(), await freePort()];
    for (const name of ['mock-upstream', 'billing', 'models']) services.push(await spawnService(name, env(), /listening/));
    ingress = await spawnService('ingress', { ...env(), INGRESS_WORKERS: '2', OPS_PORT: String(opsPort) }, /listening on .* with 2 workers/);
    services.push(ingress);
    const admin = async <T = Record<string, string>>(method: string, route: string, body?: unknown): Promise<T> => {
      const r = await fetch(`http://127.0.0.1:${port}${route}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      return (await r.json()) as T;
    };
    await admin('POST', '/admin/models', { id: 'cluster-model', kind: 'chat', pricing: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 }, limits: { max_output_tokens: 64 } });
    await admin('POST', '/admin/channels', { name: 'mock', provider: 'openai', base_url: `http://127.0.0.1:${mockPort}/v1`, api_key: 'k', models: ['cluster-model'] });
    accountId = (await admin<{ id: string }>('POST', '/admin/accounts', { name: 'cluster', credit_micros: 50_000_000 })).id;
    key = (await admin<{ key: string }>('POST', `/admin/accounts/${accountId}/keys`, { name: 'cluster' })).key;
  }, 90_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => stop(s)));
    await prisma.$disconnect();
  }, 30_000);

  it('answers from both workers, sums their metrics on the ops port and is ready', async () => {
    expect(new Set(listeningPids()).size).toBe(2);
    expect(await calls(40)).toEqual(Array(40).fill(200));
    const pids = servingPids();
    expect(pids.size).toBe(2);
    expect([...pids].sort()).toEqual([...new Set(listeningPids())].sort());

    const m = await metrics(); // (scrape throws unless /metrics answers 200)
    expect(metric(m, 'gateway_http_requests_total', { route: '/v1/chat/completions', status: '200' })).toBe(40);
    expect(metric(m, 'gateway_ingress_workers', { state: 'listening' })).toBe(2);
    expect(metric(m, 'gateway_ingress_workers', { state: 'configured' })).toBe(2);
    // one series a label set, not one a worker
    expect(m.filter((x) => x.name === 'gateway_http_requests_total' && x.labels.route === '/v1/chat/completions')).toHaveLength(1);

    const r = await ops('/health/ready');
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text) as { status: string; checks: Record<string, string>; workers: { configured: number; listening: number } };
    expect(body.status).toBe('ok');
    expect(body.checks).toMatchObject({ redis: 'ok', billing: 'ok', models: 'ok', draining: 'ok' });
    expect(body.workers).toMatchObject({ configured: 2, listening: 2 });
    expect((await ops('/health/live')).status).toBe(200);
  }, 60_000);

  it('forks a worker killed with SIGKILL again; calls go on and no counter goes back', async () => {
    const before = metric(await metrics(), 'gateway_http_requests_total', { route: '/v1/chat/completions', status: '200' });
    const [victim, survivor] = [...new Set(listeningPids())];
    process.kill(victim, 'SIGKILL');
    // calls made while the worker is replaced: the primary hands connections only to live workers
    await sleep(100);
    expect(await calls(10)).toEqual(Array(10).fill(200));
    for (let i = 0; i < 100 && new Set(listeningPids()).size < 3; i++) await sleep(100);
    const now = [...new Set(listeningPids())];
    expect(now).toHaveLength(3);
    const replacement = now.find((p) => p !== victim && p !== survivor)!;
    // a first worker's death: replaced at once
    expect(ingress.output.some((l) => l.includes('ingress worker died; forking another') && l.includes(`"worker_pid":${victim}`) && l.includes('"restart_in_ms":0'))).toBe(true);

    const from = ingress.output.length;
    expect(await calls(40)).toEqual(Array(40).fill(200));
    expect([...servingPids(from)].sort()).toEqual([survivor, replacement].sort());

    const text = await metrics();
    // what the dead worker counted up to its last scrape is kept: the total is every call made
    expect(metric(text, 'gateway_http_requests_total', { route: '/v1/chat/completions', status: '200' })).toBe(before + 50);
    expect(metric(text, 'gateway_ingress_worker_restarts_total')).toBe(1);
    expect(metric(text, 'gateway_ingress_workers', { state: 'listening' })).toBe(2);
    const ready = JSON.parse((await ops('/health/ready')).text) as { workers: { listening: number; restarts: number } };
    expect(ready.workers).toMatchObject({ listening: 2, restarts: 1 });

    // the replacement dies too, within 10 s of its start: forked again after a pause (0.5 s), and the two dead
    // workers' counts are both kept
    process.kill(replacement, 'SIGKILL');
    for (let i = 0; i < 100 && new Set(listeningPids()).size < 4; i++) await sleep(100);
    expect(new Set(listeningPids()).size).toBe(4);
    expect(ingress.output.some((l) => l.includes('ingress worker died; forking another') && l.includes(`"worker_pid":${replacement}`) && l.includes('"restart_in_ms":500'))).toBe(true);
    expect(await calls(10)).toEqual(Array(10).fill(200));
    const again = await metrics();
    expect(metric(again, 'gateway_http_requests_total', { route: '/v1/chat/completions', status: '200' })).toBe(before + 60);
    expect(metric(again, 'gateway_ingress_worker_restarts_total')).toBe(2);

    // every call either worker answered is charged once, through the leases and outbox both share
    const charged = () => prisma.usageRecord.count({ where: { accountId } });
    for (let i = 0; i < 100 && (await charged()) < 100; i++) await sleep(100);
    expect(await charged()).toBe(100);
    // nothing stays held: the leases close, and what the killed worker had drawn for the key's next call,
    // admitted ahead and never made, expires with its lease or as its own hold, charging nothing
    let b = await books(prisma, accountId);
    for (let i = 0; i < 150 && (b.held > 0 || b.activeHolds > 0); i++) {
      await sleep(100);
      b = await books(prisma, accountId);
    }
    expect(b).toMatchObject({ held: 0, activeHolds: 0, debt: 0 });
    expectInvariants(b);
    const spent = await prisma.usageRecord.aggregate({ where: { accountId }, _sum: { costMicros: true } });
    expect(b.balance).toBe(50_000_000 - Number(spent._sum.costMicros));
    const rec = await fetch(`http://127.0.0.1:${port}/admin/reconciliation?account_id=${accountId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await rec.json()) as { ties_out: boolean }).ties_out).toBe(true);
  }, 60_000);

  it('drains both workers on SIGTERM: a running stream ends and is charged, then the primary exits 0', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'cluster-model',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: '[[mock:chunk_delay=200]] [[mock:reply=one two three four five six seven eight]]' }],
      }),
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-tt-request-id')!;
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);

    const exited = new Promise<{ code: number | null; at: number }>((resolve) => ingress.child.once('exit', (code) => resolve({ code, at: Date.now() })));
    const termAt = Date.now();
    ingress.child.kill('SIGTERM');
    await sleep(300);
    const ready = await ops('/health/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text).checks.draining).toMatch(/draining/);
    let refused: string;
    try {
      const r = await post(port, key, { model: 'cluster-model', messages: [{ role: 'user', content: 'late' }] });
      expect(r.status).toBe(503);
      expect(r.body).toMatch(/shutting down/);
      refused = '503';
    } catch (err) {
      refused = `connection: ${(err as Error).message}`;
    }
    expect(refused).toBeTruthy();

    const text = first + (await readToEnd(reader));
    expect(text).toContain('eight');
    expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    expect(Date.now() - termAt).toBeGreaterThan(800);

    const { code, at } = await exited;
    expect(code).toBe(0);
    expect(at - termAt).toBeLessThan(GRACE_MS);
    expect(ingress.output.filter((l) => l.includes('"msg":"shutdown: complete"') && !l.includes('cluster-primary'))).toHaveLength(2);
    expect(ingress.output.some((l) => l.includes('cluster-primary') && l.includes('shutdown: complete') && l.includes('"clean":true'))).toBe(true);

    const usage = await usageRecordOf(prisma, requestId);
    expect(usage).not.toBeNull();
    expect(usage!.outputTokens).toBeGreaterThan(0);
    expect(Number(usage!.costMicros)).toBeGreaterThan(0);
    expectInvariants(await books(prisma, accountId));
  }, 60_000);
});
