import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { LEASE, OUTBOX } from '@gateway/contracts';
import { ADMIT_AND_PLACE_LUA } from './hold-placer.service';
import { LEASE_INSTALL_LUA } from './lease-book.service';

// The lease scripts against the real Redis, sent twice as a client does when a Redis restart loses a reply
// after the script ran (ioredis resends unanswered commands on reconnect): a call's hold is drawn once, and a
// lease installed once, however often the script arrives.
describe('credit lease scripts (real Redis)', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `lease-scripts-${randomUUID()}:`;
  const lease = LEASE.key(prefix, 'acct_1');
  const outbox = OUTBOX.stream(prefix);
  const due = LEASE.due(prefix);
  const queue = `${prefix}rpc:q:billing`;

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const install = (id: string, amount: number) => redis.eval(LEASE_INSTALL_LUA, 3, lease, outbox, due, id, amount, Date.now() + 60_000, 120_000, 'acct_1');

  /** one call's admission with a draw of `amount`, as HoldPlacer sends it (no rate limit: rpm -1) */
  const admit = (holdId: string, amount: number) =>
    redis.eval(ADMIT_AND_PLACE_LUA, 6, queue, outbox, '', '', lease, `${prefix}lease:drawn:${holdId}`, 'HEAD{"items":[', ']}TAIL', 60_000, 20, 1000, 0, '', 1000, -1, -1, '1', `{"hold_id":"${holdId}"}`, amount, 'nb:key_1', 'c') as Promise<
      Array<[number, number, number, number, string, number]>
    >;

  it('installs a lease once, and draws a call\'s hold once, when each script is sent twice', async () => {
    expect(await install('lease_a', 10_000)).toBe(1);
    expect(await install('lease_a', 10_000)).toBe(0); // the resend changes nothing
    expect(await redis.hget(lease, 'left')).toBe('10000');
    expect(await redis.xlen(outbox)).toBe(0); // nothing closed

    const [first] = await admit('hold_1', 300);
    const [again] = await admit('hold_1', 300);
    expect(first[4]).toBe('lease_a');
    expect(again[4]).toBe('lease_a');
    expect(await redis.hget(lease, 'left')).toBe('9700'); // drawn once
    const [other] = await admit('hold_2', 300);
    expect(other[4]).toBe('lease_a');
    expect(await redis.hget(lease, 'left')).toBe('9400');
    expect(await redis.llen(queue)).toBe(0); // no place went to billing

    // the next lease replaces it and closes it (the undrawn part, once), a resend of that install too
    expect(await install('lease_b', 5_000)).toBe(1);
    expect(await install('lease_b', 5_000)).toBe(0);
    const entries = await redis.xrange(outbox, '-', '+');
    expect(entries.map((e) => JSON.parse(e[1][1]))).toEqual([[{ op: 'close', lease_id: 'lease_a', unused_micros: 9400 }]]);
  });

  it('asks for the next lease once a quarter of the current one is left, not before', async () => {
    expect(await install('lease_q', 10_000)).toBe(1);
    // draws of 100 with 20 draws wanted: the old rule (a quarter of 20 draws, 500) would wait until 500 is left
    const wants: number[] = [];
    for (let i = 0; i < 76; i++) wants.push((await admit(`hold_q${i}`, 100))[0][5]);
    expect(await redis.hget(lease, 'left')).toBe('2400');
    expect(wants.slice(0, 75).every((w) => w === 0)).toBe(true); // 2,500 left after 75 draws: not yet
    expect(wants[75]).toBe(1); // 2,400 left: below a quarter of its 10,000
  });

  it("carries the settle outbox's waiting entry and its tokens, appended first, even when the call is refused", async () => {
    const rideQueue = `${prefix}rpc:q:ride`;
    const ride = (holdId: string, entry: string, tokens: Array<[string, number]>) =>
      redis.eval(
        ADMIT_AND_PLACE_LUA,
        6 + tokens.length,
        rideQueue,
        outbox,
        `${prefix}rl:req:key_r`,
        `${prefix}rl:tok:key_r`,
        '',
        '',
        ...tokens.map(([k]) => k),
        'H[',
        ']T',
        60_000,
        20,
        1000,
        tokens.length,
        entry,
        1000,
        1, // rpm 1: the second call in the window is refused
        1_000_000,
        '1',
        `{"hold_id":"${holdId}"}`,
        -1,
        'nb:key_r',
        'c',
        ...tokens.map(([, n]) => n),
      ) as Promise<Array<[number, number, number, number, string, number]>>;
    const before = await redis.xlen(outbox);
    const tokA = `${prefix}rl:tok:key_a`;
    const tokB = `${prefix}rl:tok:key_b`;
    const first = await ride('hold_r1', '[{"op":"settle","n":1}]', [[tokA, 120], [tokB, 7]]);
    expect(first[0][0]).toBe(1);
    const second = await ride('hold_r2', '[{"op":"settle","n":2}]', [[tokA, 30]]);
    expect(second[0][0]).toBe(0); // refused by the limiter, yet the ride it carried is appended
    const third = await ride('hold_r3', '', []); // nothing riding: nothing appended
    expect(third[0][0]).toBe(0);
    const entries = await redis.xrange(outbox, '-', '+');
    expect(entries.slice(before).map((e) => e[1])).toEqual([
      ['m', '[{"op":"settle","n":1}]'],
      ['m', '[{"op":"settle","n":2}]'],
    ]);
    expect(await redis.get(tokA)).toBe('150');
    expect(await redis.get(tokB)).toBe('7');
    const ttl = await redis.pttl(tokA);
    expect(ttl).toBeGreaterThan(50_000); // expires with its window, set when the counter was made
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.lrange(rideQueue, 0, -1)).toEqual(['H[{"hold_id":"hold_r1"}]T']); // only the admitted call's place went to billing
  });

  it('a budgeted key, a missing lease or a draw larger than what is left: the hold is placed in billing', async () => {
    await redis.hset(lease, 'nb:key_b', '1');
    const budgeted = (await redis.eval(ADMIT_AND_PLACE_LUA, 6, queue, outbox, '', '', lease, `${prefix}lease:drawn:hold_b`, 'H[', ']T', 60_000, 20, 1000, 0, '', 1000, -1, -1, '1', '{"b":1}', 10, 'nb:key_b', 'c')) as Array<[number, number, number, number, string, number]>;
    expect(budgeted[0][4]).toBe('');
    expect(budgeted[0][5]).toBe(0); // no lease asked for a budgeted key
    const big = (await admit('hold_big', 1_000_000))[0];
    expect(big[4]).toBe('');
    expect(big[5]).toBe(1); // a fresh lease is asked for
    expect(await redis.lrange(queue, 0, -1)).toEqual(['HEAD{"items":[{"hold_id":"hold_big"}]}TAIL', 'H[{"b":1}]T']);
  });

  it("admits a tick's calls of one key in one script as one script each would: trimmed, counted and refused in order", async () => {
    // the request set is trimmed, counted and looked at once a script (ADMIT_FN); the answers must be those
    // of the calls admitted one after another
    const rk = `${prefix}rl:key_m:r`;
    const tk = `${prefix}rl:key_m:t`;
    const mQueue = `${prefix}rpc:q:many`;
    type V = Array<[number, number, number, number, string, number]>;
    const many = (n: number, rpm: number) => {
      const keys = [mQueue, outbox];
      const args: Array<string | number> = ['H[', ']T', 60_000, 20, 1000, 0, '', 1000];
      for (let i = 0; i < n; i++) {
        keys.push(rk, tk, '', '');
        args.push(rpm, 1_000, '1', `{"m":${i}}`, -1, 'nb:key_m', 'c');
      }
      return redis.eval(ADMIT_AND_PLACE_LUA, keys.length, ...keys, ...args.map(String)) as Promise<V>;
    };
    const now = Number((await redis.time())[0]) * 1000;
    await redis.zadd(rk, now - 70_000, 'stale', now - 30_000, 'old'); // one out of the window, one in it
    const out = await many(4, 3);
    expect(out.map((r) => r.slice(0, 3))).toEqual([
      [1, 2, 0],
      [1, 3, 0],
      [0, 3, 0],
      [0, 3, 0],
    ]);
    for (const r of out) expect(Math.abs(r[3] - 30_000)).toBeLessThan(1_500); // until 'old' leaves the window
    expect(await redis.zrange(rk, '0', '0')).toEqual(['old']); // 'stale' trimmed
    expect(await redis.zcard(rk)).toBe(3);
    expect(await redis.pttl(rk)).toBeGreaterThan(60_000);
    expect(await redis.lrange(mQueue, 0, -1)).toEqual(['H[{"m":0},{"m":1}]T']); // the admitted two are placed

    // into an empty set, and refused by tokens: the first call's slot is the oldest; the token window's end
    await redis.del(rk, mQueue);
    const fresh = await many(3, 10);
    expect(fresh.map((r) => r.slice(0, 2))).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
    ]);
    for (const r of fresh) expect(Math.abs(r[3] - 60_000)).toBeLessThan(1_500);
    await redis.set(tk, '1000', 'PX', 20_000);
    const spent = await many(2, 10);
    expect(spent.map((r) => r.slice(0, 3))).toEqual([
      [0, 3, 1000],
      [0, 3, 1000],
    ]);
    for (const r of spent) expect(r[3]).toBeLessThanOrEqual(20_000);
    for (const r of spent) expect(r[3]).toBeGreaterThan(18_000);
    expect(await redis.zcard(rk)).toBe(3);
  });

  describe('admission one call ahead (an item of kind "a")', () => {
    const aLease = LEASE.key(prefix, 'acct_a');
    const rk = `${prefix}rl:key_a:r`;
    const tk = `${prefix}rl:key_a:t`;
    const aQueue = `${prefix}rpc:q:ahead`;
    type V = Array<[number, number, number, number, string, number]>;
    const installA = (id: string, amount: number, untilMs = 60_000) =>
      redis.eval(LEASE_INSTALL_LUA, 3, aLease, outbox, due, id, amount, Date.now() + untilMs, 120_000, 'acct_a', 'key_budget');
    /** a call of `amount` for key_a (its JSON place '{"c":holdId}') and, when aheadId is given, the admission ahead of its next call for aheadAmount */
    const callAndAhead = (holdId: string, amount: number, aheadId: string | null, aheadAmount: number, rpm = 100, keyId = 'key_a') => {
      const keys = [aQueue, outbox, rk, tk, aLease, `${prefix}lease:drawn:${holdId}`];
      const args: Array<string | number> = ['H[', ']T', 60_000, 20, 1000, 0, '', 1000, rpm, 1_000_000, '1', `{"c":"${holdId}"}`, amount, `nb:${keyId}`, 'c'];
      if (aheadId) {
        keys.push(rk, tk, aLease, `${prefix}lease:drawn:${aheadId}`);
        args.push(rpm, 1_000_000, '1', '', aheadAmount, `nb:${keyId}`, 'a');
      }
      return redis.eval(ADMIT_AND_PLACE_LUA, keys.length, ...keys, ...args.map(String)) as Promise<V>;
    };
    const reset = async () => {
      await redis.del(aLease, rk, tk, aQueue);
    };

    it('admits and draws for the next call in the same script, its slot counted at the end of ADMIT_AHEAD_MS, once however often sent', async () => {
      await reset();
      await installA('lease_x', 100_000);
      const t0 = Number((await redis.time())[0]) * 1000;
      const [call, ahead] = await callAndAhead('hold_c1', 300, 'hold_a1', 375);
      expect(call.slice(0, 2)).toEqual([1, 1]);
      expect(call[4]).toBe('lease_x');
      expect(ahead[0]).toBe(1);
      expect(ahead[1]).toBe(2); // both counted: the next call's slot is taken now
      expect(ahead[4]).toBe('lease_x');
      expect(await redis.hget(aLease, 'left')).toBe(String(100_000 - 300 - 375));
      const slots = await redis.zrange(rk, '0', '-1', 'WITHSCORES');
      expect(slots[2]).toMatch(/:a$/); // the later-scored member is the slot taken ahead
      expect(Number(slots[3]) - Number(slots[1])).toBeGreaterThanOrEqual(1000); // scored ADMIT_AHEAD_MS later
      expect(Number(slots[3])).toBeGreaterThanOrEqual(t0 + 1000);
      expect(await redis.pttl(rk)).toBeGreaterThan(60_000); // the set outlives the window by the ahead's span
      // the script sent again (its reply lost): neither hold is drawn twice, the ahead is not counted twice
      const [, again] = await callAndAhead('hold_c1', 300, 'hold_a1', 375);
      expect(again[0]).toBe(1);
      expect(again[4]).toBe('lease_x');
      expect(await redis.hget(aLease, 'left')).toBe(String(100_000 - 300 - 375));
      expect(await redis.llen(aQueue)).toBe(0); // nothing went to billing, the ahead never does
    });

    it('counts the slot taken ahead against the limit, and a refused ahead counts and draws nothing', async () => {
      await reset();
      await installA('lease_r', 100_000);
      const [c1, a1] = await callAndAhead('hold_r1', 100, 'hold_ra1', 100, 2);
      expect([c1[0], a1[0], a1[1]]).toEqual([1, 1, 2]);
      const [c2, a2] = await callAndAhead('hold_r2', 100, 'hold_ra2', 100, 2);
      expect(c2[0]).toBe(0); // the call is refused: the window holds the call and the slot taken ahead
      expect(a2[0]).toBe(0);
      expect(a2[4]).toBe('');
      expect(await redis.zcard(rk)).toBe(2);
      expect(await redis.hget(aLease, 'left')).toBe(String(100_000 - 200));
      expect(await redis.exists(`${prefix}lease:drawn:hold_ra2`)).toBe(0);
    });

    it('admits ahead in a script of admissions ahead alone, sent without a place request (no queue, no envelope)', async () => {
      await reset();
      await installA('lease_o', 100_000);
      /** as HoldPlacer sends a batch of 'a' items only: billing's queue and the envelope's head and tail are '' */
      const aheadOnly = (ids: string[], amount: number, keyId = 'key_a') => {
        const keys = ['', outbox];
        const args: Array<string | number> = ['', '', 60_000, 20, 1000, 0, '', 1000];
        for (const id of ids) {
          keys.push(rk, tk, aLease, `${prefix}lease:drawn:${id}`);
          args.push(100, 1_000_000, '1', '', amount, `nb:${keyId}`, 'a');
        }
        return redis.eval(ADMIT_AND_PLACE_LUA, keys.length, ...keys, ...args.map(String)) as Promise<V>;
      };
      const [a1, a2] = await aheadOnly(['hold_o1', 'hold_o2'], 250);
      expect([a1[0], a1[4], a2[0], a2[4]]).toEqual([1, 'lease_o', 1, 'lease_o']);
      expect(await redis.hget(aLease, 'left')).toBe(String(100_000 - 500));
      // refused ones (a budgeted key) are not placed anywhere either: nothing is pushed, under '' or elsewhere
      const [b1] = await aheadOnly(['hold_o3'], 250, 'key_budget');
      expect(b1[0]).toBe(0);
      expect(await redis.exists('')).toBe(0);
      expect(await redis.llen(aQueue)).toBe(0);
      expect(await redis.zcard(rk)).toBe(2); // the two admitted slots; the refused one counts nothing
    });

    it('is not admitted for a key with a budget, with no lease, near the end of the lease or its window', async () => {
      await reset();
      await installA('lease_b', 100_000);
      const [, budgeted] = await callAndAhead('hold_b1', 100, 'hold_ba1', 100, 100, 'key_budget');
      expect(budgeted[0]).toBe(0);
      // the lease low: an ahead may not take it into its last quarter (the calls themselves ask for the next one)
      await installA('lease_low', 20_000);
      const [low, lowAhead] = await callAndAhead('hold_l1', 100, 'hold_la1', 14_000);
      expect(low[4]).toBe('lease_low');
      expect(lowAhead[0]).toBe(0);
      expect(await redis.hget(aLease, 'left')).toBe(String(20_000 - 100));
      // the window ends within the lease refresh time plus ADMIT_AHEAD_MS (1000 + 1000 here)
      await installA('lease_end', 100_000, 1500);
      const [end, endAhead] = await callAndAhead('hold_e1', 100, 'hold_ea1', 100);
      expect(end[4]).toBe('lease_end');
      expect(endAhead[0]).toBe(0);
      await redis.del(aLease);
      const [none, noneAhead] = await callAndAhead('hold_n1', 100, 'hold_na1', 100);
      expect(none[4]).toBe('');
      expect(noneAhead[0]).toBe(0);
      expect(await redis.zcard(rk)).toBe(4); // the four calls, no slot taken ahead
    });
  });
});
