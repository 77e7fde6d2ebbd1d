import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { RouteTarget } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import { CircuitBreaker } from './circuit-breaker';

// The breaker against the real Redis, with two instances standing for two ingress replicas. A channel read
// healthy is trusted locally for BREAKER_LOCAL_MS (no round trip per call); failures recorded by this replica
// are seen by it at once, another replica's within BREAKER_LOCAL_MS.
describe('CircuitBreaker (real Redis)', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `cb-test-${randomUUID()}:`;
  const config = (local: number) => ({ REDIS_PREFIX: prefix, BREAKER_FAILURES: 2, BREAKER_COOLDOWN_MS: 60_000, BREAKER_LOCAL_MS: local, UPSTREAM_TIMEOUT_MS: 1000 }) as unknown as IngressConfig;
  const target = (id: string): RouteTarget => ({ channel_id: id, provider: 'openai', base_url: 'http://x', api_key: '', upstream_model: 'm', priority: 0, weight: 1 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** the breaker's script calls on this connection (a spy that calls through to Redis) */
  const countChecks = (conn: Redis) => jest.spyOn(conn as unknown as { gwBreakerCheck: () => Promise<number[]> }, 'gwBreakerCheck');

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('asks Redis once per BREAKER_LOCAL_MS for a healthy channel, not once per call', async () => {
    const conn = redis.duplicate();
    const a = new CircuitBreaker(conn, config(60_000));
    const checks = countChecks(conn);
    const ch = [target(`h-${randomUUID()}`)];
    for (let i = 0; i < 50; i++) expect((await a.plan(ch))[0].state).toBe('closed');
    expect(checks).toHaveBeenCalledTimes(1);
    const conn0 = redis.duplicate();
    const off = new CircuitBreaker(conn0, config(0));
    const checks0 = countChecks(conn0);
    for (let i = 0; i < 5; i++) expect((await off.plan(ch))[0].state).toBe('closed');
    expect(checks0).toHaveBeenCalledTimes(5);
    conn.disconnect();
    conn0.disconnect();
  });

  it("sees its own failures at once, and another replica's once its reading is older than BREAKER_LOCAL_MS", async () => {
    // long enough that the few round trips between the other replica's reading and its check below fit in it
    const local = 1500;
    const mine = new CircuitBreaker(redis, config(local));
    const other = new CircuitBreaker(redis, config(local));
    const ch = target(`f-${randomUUID()}`);
    const spare = target(`s-${randomUUID()}`);
    const pair = [ch, spare];

    // this replica: two failures open the channel, and its very next plan leaves it out
    let plan = await mine.plan(pair);
    expect(plan.map((p) => p.state)).toEqual(['closed', 'closed']);
    await mine.record(plan[0], false);
    plan = await mine.plan(pair);
    expect(plan[0]).toMatchObject({ state: 'closed', failures: 1 });
    expect(await mine.record(plan[0], false)).toBe(true);
    expect((await mine.plan(pair)).map((p) => p.target.channel_id)).toEqual([spare.channel_id]);

    // another replica that had read the channel healthy trusts that reading until it is BREAKER_LOCAL_MS old
    const ch2 = target(`g-${randomUUID()}`);
    const pair2 = [ch2, spare];
    expect((await other.plan(pair2)).length).toBe(2);
    let p = await mine.plan(pair2);
    await mine.record(p[0], false);
    p = await mine.plan(pair2);
    await mine.record(p[0], false);
    expect((await mine.plan(pair2)).map((x) => x.target.channel_id)).toEqual([spare.channel_id]);
    expect((await other.plan(pair2)).length).toBe(2);
    await sleep(local + 50);
    expect((await other.plan(pair2)).map((x) => x.target.channel_id)).toEqual([spare.channel_id]);
  });
});
