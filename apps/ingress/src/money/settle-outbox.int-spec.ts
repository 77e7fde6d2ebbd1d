import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { OUTBOX, type OutboxOp } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import { SettleOutbox } from './settle-outbox.service';

// The call side of the settle outbox against the real Redis: an entry waits OUTBOX_RIDE_MS for a call's
// admission script to carry it (takeRide), and is appended on its own when none comes; a ride whose script
// call failed is kept and appended by the retry, in order; nothing rides past an older entry still waiting.
describe('settle outbox, call side (real Redis)', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `outbox-ride-${randomUUID()}:`;
  const stream = OUTBOX.stream(prefix);
  const made: SettleOutbox[] = [];
  const outbox = (rideMs: number) => {
    const o = new SettleOutbox(redis, { REDIS_PREFIX: prefix, RATE_WINDOW_MS: 60_000, OUTBOX_RIDE_MS: rideMs } as IngressConfig);
    made.push(o);
    return o;
  };
  const op = (n: number) => ({ op: 'release', hold_id: `hold_${n}` }) as unknown as OutboxOp;
  const entries = async () => (await redis.xrange(stream, '-', '+')).map((e) => JSON.parse(e[1][1]) as Array<{ hold_id: string }>).map((ops) => ops.map((o) => o.hold_id));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function until(check: () => Promise<boolean>, ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('timed out');
      await sleep(10);
    }
  }

  beforeEach(async () => {
    await redis.del(stream);
  });
  afterAll(async () => {
    for (const o of made) await o.drain(1000);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('waits OUTBOX_RIDE_MS for a ride, then appends the entry on its own', async () => {
    const o = outbox(40);
    const pushedAt = Date.now();
    o.push(op(1));
    o.push(op(2));
    await sleep(15);
    expect(await redis.xlen(stream)).toBe(0); // still waiting for a call to ride on
    expect(o.waiting).toBe(2);
    await until(async () => (await redis.xlen(stream)) === 1);
    expect(Date.now() - pushedAt).toBeGreaterThanOrEqual(35);
    expect(await entries()).toEqual([['hold_1', 'hold_2']]); // one entry for the ops of the wait
    await until(async () => o.waiting === 0);
  });

  it('with OUTBOX_RIDE_MS=0 appends at the end of the tick', async () => {
    const o = outbox(0);
    o.push(op(3));
    await until(async () => (await redis.xlen(stream)) === 1, 500);
    expect(await entries()).toEqual([['hold_3']]);
  });

  it('a taken ride cancels the own append; drain waits for the ride to end', async () => {
    const o = outbox(30);
    o.push(op(4));
    const ride = o.takeRide();
    expect(ride).toBeDefined();
    expect(JSON.parse(ride!.entry)).toEqual([op(4)]);
    expect(o.takeRide()).toBeUndefined(); // nothing left to take
    let drained = false;
    void o.drain(2000).then((ok) => (drained = ok));
    await sleep(100);
    expect(drained).toBe(false); // the ride is still out
    expect(await redis.xlen(stream)).toBe(0); // and no append of its own was made
    await redis.xadd(stream, '*', 'm', ride!.entry); // what the admission script does
    o.rideDone(ride!);
    await until(async () => drained);
    expect(await entries()).toEqual([['hold_4']]);
  });

  it('a ride whose script call failed is appended by the retry, before anything pushed after it', async () => {
    const o = outbox(30);
    o.push(op(5));
    const ride = o.takeRide()!;
    o.rideDone(ride, new Error('Connection is closed.'));
    o.push(op(6));
    expect(o.takeRide()).toBeUndefined(); // an older entry still waits: nothing may ride past it
    await until(async () => (await redis.xlen(stream)) === 2);
    expect(await entries()).toEqual([['hold_5'], ['hold_6']]);
    await until(async () => o.waiting === 0);
  });

  it('a ride that fails while the retry is appending the backlog is appended too, and nothing twice', async () => {
    const o = outbox(30);
    o.push(op(7));
    const first = o.takeRide()!;
    o.push(op(8));
    const second = o.takeRide()!; // taken while nothing waited, its script call still out
    o.rideDone(first, new Error('Connection is closed.')); // kept: the retry runs in 250 ms
    // the second ride fails while the retry's append of the first is on its way to Redis
    const xadd = redis.xadd.bind(redis);
    const spy = jest.spyOn(redis, 'xadd').mockImplementationOnce((...args: Parameters<typeof redis.xadd>) => {
      const sent = xadd(...args);
      o.rideDone(second, new Error('Connection is closed.'));
      return sent;
    });
    try {
      await until(async () => (await redis.xlen(stream)) === 2);
      await until(async () => o.waiting === 0);
      await sleep(300); // a retry that ran twice would append again
      expect((await entries()).sort()).toEqual([['hold_7'], ['hold_8']]);
    } finally {
      spy.mockRestore();
    }
  });
});
