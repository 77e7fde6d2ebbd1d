import { testPrisma } from './support/db';
import { ensurePostgres, pgCtl } from './support/postgres';
import { adminCall, newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';
import { hasSeries, metric, scrape, type Series } from './support/metrics';

// Each service's ops port after one chat call: the counters with the right labels and values, the RPC and
// queue metrics, and readiness that follows Postgres down and back up.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ready(base: string): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const r = await fetch(`${base}/health/ready`);
  return { status: r.status, body: (await r.json()) as { status: string; checks: Record<string, string> } };
}

/** Polls readiness until it answers `status` (or the time is up, and the last answer is returned). */
async function readyUntil(base: string, status: number, ms: number) {
  const until = Date.now() + ms;
  for (;;) {
    const r = await ready(base).catch(() => null);
    if ((r && r.status === status) || Date.now() > until) return r;
    await sleep(200);
  }
}

/** Scrapes until `done` holds for the scrape, at most 20 times 100 ms apart; returns the last scrape. */
async function scrapeUntil(base: string, done: (series: Series[]) => boolean): Promise<Series[]> {
  let series = await scrape(base);
  for (let i = 0; i < 20 && !done(series); i++) {
    await sleep(100);
    series = await scrape(base);
  }
  return series;
}

describe('ops: metrics and health on every service', () => {
  let g: StartedGateway;
  const prisma = testPrisma(2);

  beforeAll(async () => {
    g = await startGateway();
  }, 120_000);

  afterAll(async () => {
    await ensurePostgres();
    await g?.stop();
    await prisma.$disconnect();
  });

  it('liveness and readiness answer on every ops port, and on the public port of ingress', async () => {
    for (const [name, base] of Object.entries(g.ops)) {
      expect([name, (await fetch(`${base}/health/live`)).status]).toEqual([name, 200]);
      const r = await readyUntil(base, 200, 10_000);
      expect([name, r?.status]).toEqual([name, 200]);
      expect(Object.values(r!.body.checks).every((v) => v === 'ok')).toBe(true);
    }
    expect((await ready(g.ops.billing)).body.checks).toEqual({ postgres: 'ok', redis: 'ok' });
    expect((await ready(g.ops['task-worker'])).body.checks).toEqual({ redis: 'ok', postgres: 'ok' });
    expect((await ready(g.ops.ingress)).body.checks).toEqual({ redis: 'ok', billing: 'ok', models: 'ok', draining: 'ok' });
    const pub = await ready(g.base);
    expect(pub).toEqual({ status: 200, body: { status: 'ok', checks: { redis: 'ok', billing: 'ok', models: 'ok', draining: 'ok' } } });
    expect((await fetch(`${g.base}/health/live`)).status).toBe(200);
  });

  it('one chat call moves each service counter by exactly that call', async () => {
    const acct = await newAccount(g, 5_000_000);
    const channels = (await adminCall<{ data: Array<{ id: string; name: string }> }>(g, 'GET', '/admin/channels')).json.data;
    const channel = channels.find((c) => c.name === 'mock-openai')!.id;
    const route = '/v1/chat/completions';
    const labels = { route, style: 'openai', model: 'gpt-4o-mini', channel, status: '200' };

    const [ing0, bil0] = await Promise.all([scrape(g.ops.ingress), scrape(g.ops.billing)]);
    const res = await acct.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'metrics please' }] }).withResponse();
    const requestId = res.response.headers.get('x-tt-request-id')!;
    await settledAccount(g, acct.id);
    const usage = await prisma.usageRecord.findUniqueOrThrow({ where: { requestId } });
    expect(usage.channelId).toBe(channel);
    expect(usage.inputTokens).toBeGreaterThan(0);

    // the access is counted when the response closes, the outbox applied when nothing is held: poll briefly
    const ing = await scrapeUntil(g.ops.ingress, (t) => metric(t, 'gateway_http_requests_total', labels) !== metric(ing0, 'gateway_http_requests_total', labels));
    const d = (name: string, l: Record<string, string>) => metric(ing, name, l) - metric(ing0, name, l);
    expect(d('gateway_http_requests_total', labels)).toBe(1);
    expect(d('gateway_http_request_duration_seconds_count', { route, style: 'openai', model: 'gpt-4o-mini' })).toBe(1);
    expect(d('gateway_http_time_to_first_byte_seconds_count', { route, style: 'openai', model: 'gpt-4o-mini' })).toBe(1);
    expect(d('gateway_tokens_total', { model: 'gpt-4o-mini', type: 'input' })).toBe(usage.inputTokens);
    expect(d('gateway_tokens_total', { model: 'gpt-4o-mini', type: 'output' })).toBe(usage.outputTokens);
    expect(d('gateway_tokens_total', { model: 'gpt-4o-mini', type: 'reasoning' })).toBe(usage.reasoningTokens);
    expect(d('gateway_tokens_total', { model: 'gpt-4o-mini', type: 'cached' })).toBe(usage.cachedInputTokens);
    expect(d('gateway_charged_micros_total', { model: 'gpt-4o-mini' })).toBe(Number(usage.costMicros));
    expect(d('gateway_upstream_attempts_total', { channel, outcome: 'ok' })).toBe(1);
    expect(metric(ing, 'gateway_http_requests_total', { service: 'ingress' })).toBeGreaterThan(0);

    // the outbox entry is acknowledged just after its batch commits (what settledAccount waited for): poll briefly
    const bil = await scrapeUntil(g.ops.billing, (t) => metric(t, 'gateway_settle_outbox_pending') === 0);
    const b = (outcome: string) => metric(bil, 'gateway_holds_total', { outcome }) - metric(bil0, 'gateway_holds_total', { outcome });
    expect(b('placed')).toBe(1);
    expect(b('settled')).toBe(1);
    expect(metric(bil, 'gateway_rpc_server_duration_seconds_count', { service: 'billing', pattern: 'holds.placeMany', outcome: 'ok' })).toBeGreaterThan(0);
    expect(hasSeries(bil, 'gateway_settle_outbox_depth')).toBe(true);
    expect(hasSeries(bil, 'gateway_settle_outbox_oldest_age_seconds')).toBe(true);
    expect(metric(bil, 'gateway_settle_outbox_pending')).toBe(0);

    const mod = await scrape(g.ops.models);
    expect(metric(mod, 'gateway_rpc_server_duration_seconds_count', { service: 'models' })).toBeGreaterThan(0);

    const wrk = await scrape(g.ops['task-worker']);
    for (const queue of ['tasks-video', 'tasks-mj', 'tasks-image']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) expect([queue, state, hasSeries(wrk, 'gateway_queue_jobs', { queue, state })]).toEqual([queue, state, true]);
    }
    expect(hasSeries(wrk, 'gateway_process_resident_memory_bytes', { service: 'task-worker' })).toBe(true);
  });

  it("an answer's Server-Timing and the overhead metrics split its time between the upstream and the gateway", async () => {
    const acct = await newAccount(g, 5_000_000);
    const route = '/v1/chat/completions';
    const l = { route, style: 'openai', model: 'gpt-4o-mini' };
    const ing0 = await scrape(g.ops.ingress);
    // the mock answers 150 ms late: the upstream leg holds that wait, the gateway's share does not
    const started = performance.now();
    const res = await acct.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'timing [[mock:latency=150]]' }] }).withResponse();
    const took = performance.now() - started;
    const timing = res.response.headers.get('server-timing') ?? '';
    const m = /^upstream;dur=(\d+\.\d\d), gateway;dur=(\d+\.\d\d)$/.exec(timing);
    expect([timing, Boolean(m)]).toEqual([timing, true]);
    const [up, own] = [Number(m![1]), Number(m![2])];
    expect(up).toBeGreaterThanOrEqual(150);
    expect(up + own).toBeLessThanOrEqual(took);
    expect(own).toBeLessThan(100);

    // a stream: its upstream leg ends at the first body bytes (the mock's 150 ms wait is before them)
    const stream = await acct.client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'timing [[mock:latency=150]]' }] });
    for await (const _ of stream) void _;

    const ing = await scrapeUntil(g.ops.ingress, (t) => metric(t, 'gateway_overhead_seconds_count', l) - metric(ing0, 'gateway_overhead_seconds_count', l) >= 2);
    const d = (name: string) => metric(ing, name, l) - metric(ing0, name, l);
    expect(d('gateway_upstream_seconds_count')).toBe(2);
    expect(d('gateway_overhead_seconds_count')).toBe(2);
    expect(d('gateway_upstream_seconds_sum')).toBeGreaterThanOrEqual(0.3);
    // both calls' own shares together: well under either upstream wait
    expect(d('gateway_overhead_seconds_sum')).toBeLessThan(0.15);
    expect(d('gateway_http_request_duration_seconds_sum')).toBeGreaterThanOrEqual(d('gateway_upstream_seconds_sum'));
  });

  it('billing readiness goes 503 naming postgres while Postgres is down, and 200 when it is back', async () => {
    expect((await ready(g.ops.billing)).status).toBe(200);
    try {
      pgCtl('stop');
      const down = await readyUntil(g.ops.billing, 503, 10_000);
      expect(down?.status).toBe(503);
      expect(down?.body.status).toBe('unavailable');
      expect(down?.body.checks.redis).toBe('ok');
      expect(down?.body.checks.postgres).not.toBe('ok');
      // the same dependency, seen by models and the worker
      expect((await readyUntil(g.ops.models, 503, 5000))?.body.checks.postgres).not.toBe('ok');
      // ingress does not need Postgres for a call: still ready
      expect((await ready(g.ops.ingress)).status).toBe(200);
    } finally {
      await ensurePostgres();
    }
    const up = await readyUntil(g.ops.billing, 200, 20_000);
    expect(up).toEqual({ status: 200, body: { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } } });
  }, 60_000);
});
