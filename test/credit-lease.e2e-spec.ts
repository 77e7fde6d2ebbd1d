import { LEASE, OUTBOX, newId } from '@gateway/contracts';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { books, expectInvariants, testPrisma } from './support/db';
import { freePort, resetTestDatabase } from './support/gateway';
import { metric, scrape } from './support/metrics';
import { kill9, spawnService, stop, type Service } from './support/services';

// Credit leases (HOLD_LEASE=on) against the real services: calls' holds drawn from an account's lease in
// Redis are each charged exactly once, under concurrency, from two ingress replicas; every lease closes and
// gives back what no call drew; a key with a budget never draws; a long call's draw becomes a hold of its
// own that is kept alive; a replayed split, settle or close changes nothing; and a place refused for
// balance while a lease held part of it succeeds once the lease is closed; and what an ingress killed
// mid-call leaves behind expires and is reported with its amount.

const ADMIN = 'credit-lease-admin-token';
const PRICE = { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 3_000_000 };
const cost = (u: { prompt_tokens: number; completion_tokens: number }) => Math.ceil((u.prompt_tokens * PRICE.input_per_mtok_micros + u.completion_tokens * PRICE.output_per_mtok_micros) / 1_000_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// a lease's draw window ended now: as if its `until` had passed (KEYS: the lease hash, the index of leases by
// the end of their window; ARGV: the account); no lease, no change
const END_WINDOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'until', now)
redis.call('ZADD', KEYS[2], now, ARGV[1])
return 1
`;

describe('credit leases', () => {
  const prisma = testPrisma(2);
  const prefix = `lease-${randomUUID()}:`;
  const services: Service[] = [];
  const ports: number[] = [];
  /** the ops ports (metrics) of billing and the two ingress replicas */
  const ops: number[] = [];
  let mockPort = 0;
  let redis: Redis;

  const base = (p: number) => `http://127.0.0.1:${p}`;
  const env = (extra: Record<string, string> = {}) => ({
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: process.env.REDIS_URL as string,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN: ADMIN,
    MOCK_PORT: String(mockPort),
    HOLD_LEASE: 'on',
    // calls draw from a lease for 1 s; holds live 2 s unless extended (every 250 ms); the sweeper looks every 100 ms
    LEASE_DRAW_MS: '1000',
    HOLD_TTL_MS: '2000',
    SWEEP_INTERVAL_MS: '100',
    HOLD_EXTEND_INTERVAL_MS: '250',
    DEFAULT_RPM: '100000',
    LOG_LEVEL: 'warn',
    ...extra,
  });

  const admin = async <T = Record<string, string>>(method: string, route: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${base(ports[0])}${route}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return (await r.json()) as T;
  };

  const chat = (port: number, key: string, content: string, extra: Record<string, unknown> = {}) =>
    fetch(`${base(port)}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'lease-model', messages: [{ role: 'user', content }], ...extra }),
    });

  /**
   * waits until nothing is held for the account: every call settled and every lease closed. Unless `natural`,
   * the account's lease window is first ended now (its `until` and its place in the index of leases due), so
   * the closers of both replicas close it through their own path within 250 ms instead of at the end of the
   * second replica's 10 s window; the first test waits for the window itself.
   */
  const drained = async (accountId: string, opts: { natural?: boolean } = {}) => {
    if (!opts.natural) await redis.eval(END_WINDOW_LUA, 2, LEASE.key(prefix, accountId), LEASE.due(prefix), accountId);
    for (let i = 0; i < 400; i++) {
      const b = await books(prisma, accountId);
      if (b.held === 0 && b.activeHolds === 0) return b;
      await sleep(50);
    }
    return books(prisma, accountId);
  };

  /** the account's call holds released for this reason (their last event's) */
  const releasedFor = async (accountId: string, reason: string) => {
    const released = await prisma.hold.findMany({ where: { accountId, kind: 'call', state: 'released' }, include: { events: { orderBy: { id: 'asc' } } } });
    return released.filter((h) => h.events.at(-1)!.reason === reason);
  };

  const account = async (credit: number) => (await admin('POST', '/admin/accounts', { name: 'leases', credit_micros: credit })).id;
  const newKey = async (accountId: string, body: Record<string, unknown> = {}) => (await admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'k', ...body })).key;

  /**
   * `calls` small calls through one replica, then waits until the account has a lease in Redis (the first
   * call asked for it) and every one of those calls is settled; returns the lease's id
   */
  const warmLease = async (port: number, key: string, accountId: string, calls: number) => {
    for (let i = 0; i < calls; i++) expect((await chat(port, key, 'warm', { max_tokens: 10 })).status).toBe(200);
    for (let i = 0; i < 100 && !(await redis.hget(LEASE.key(prefix, accountId), 'id')); i++) await sleep(20);
    for (let i = 0; i < 100 && (await prisma.usageRecord.count({ where: { accountId } })) < calls; i++) await sleep(20);
    return redis.hget(LEASE.key(prefix, accountId), 'id');
  };

  beforeAll(async () => {
    await resetTestDatabase();
    mockPort = await freePort();
    ports.push(await freePort(), await freePort());
    ops.push(await freePort(), await freePort(), await freePort());
    // a lease lives 12 s if never closed (a call's hold 2 s)
    services.push(await spawnService('mock-upstream', env(), /listening/));
    services.push(await spawnService('billing', env({ LEASE_TTL_MS: '12000', OPS_PORT: String(ops[0]) }), /listening/));
    services.push(await spawnService('models', env(), /listening/));
    // the second replica's leases last 10 s: long enough that a test's calls surely find one open
    services.push(await spawnService('ingress', env({ PORT: String(ports[0]), OPS_PORT: String(ops[1]) }), /listening/));
    // (it asks for admissions ahead one at a time, ADMIT_AHEAD_BATCH=1: the tests on it count asks and releases
    // one by one; the default's batches have a test of their own, on a replica of their own)
    services.push(await spawnService('ingress', env({ PORT: String(ports[1]), OPS_PORT: String(ops[2]), LEASE_DRAW_MS: '10000', ADMIT_AHEAD_BATCH: '1' }), /listening/));
    await admin('POST', '/admin/models', { id: 'lease-model', kind: 'chat', pricing: PRICE, limits: { max_output_tokens: 400_000 } });
    await admin('POST', '/admin/channels', { name: 'mock', provider: 'openai', base_url: `${base(mockPort)}/v1`, api_key: 'k', models: ['lease-model'] });
    redis = new Redis(process.env.REDIS_URL as string);
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await Promise.all(services.map((s) => stop(s)));
    await prisma.$disconnect();
  }, 30_000);

  it('concurrent calls from two replicas draw from the lease, each is charged once, and every lease closes', async () => {
    const accountId = await account(100_000_000);
    const keys = [await newKey(accountId), await newKey(accountId)];
    const before = await books(prisma, accountId);
    const counters = async () => {
      const [b, i0, i1] = await Promise.all(ops.map((p) => scrape(`http://127.0.0.1:${p}`)));
      const via = (v: string) => metric(i0, 'gateway_call_holds_total', { via: v }) + metric(i1, 'gateway_call_holds_total', { via: v });
      const appended = (v: string) => metric(i0, 'gateway_outbox_appends_total', { via: v }) + metric(i1, 'gateway_outbox_appends_total', { via: v });
      return { ride: appended('ride'), own: appended('own'), lease: via('lease'), ahead: via('ahead'), billing: via('billing'), split: metric(b, 'gateway_holds_total', { outcome: 'split' }), granted: metric(b, 'gateway_leases_total', { outcome: 'granted' }), closed: metric(b, 'gateway_leases_total', { outcome: 'closed' }) };
    };
    const c0 = await counters();
    let expected = 0;
    const holdIds: string[] = [];
    // 300 calls, 16 at a time, spread over both keys and both ingress replicas, for about 3 lease windows
    let next = 0;
    const worker = async () => {
      while (next < 300) {
        const i = next++;
        const r = await chat(ports[i % 2], keys[i % 2], `call ${i} [[mock:latency=5]]`, { max_tokens: 50 });
        expect(r.status).toBe(200);
        const body = (await r.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
        expected += cost(body.usage);
        holdIds.push(r.headers.get('x-tt-hold-id')!);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const after = await drained(accountId, { natural: true });
    expect(after.held).toBe(0);
    expect(before.balance - after.balance).toBe(expected);
    expectInvariants(after);
    // every call has its own settled hold and one usage record; most were drawn from leases
    const calls = await prisma.hold.findMany({ where: { id: { in: holdIds } }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(calls).toHaveLength(300);
    expect(calls.every((h) => h.state === 'settled' && h.kind === 'call')).toBe(true);
    expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(300);
    expect(await prisma.ledgerEntry.count({ where: { accountId, kind: 'charge' } })).toBe(300);
    const drawn = calls.filter((h) => h.leaseId?.startsWith('lease_'));
    expect(drawn.length).toBeGreaterThan(250);
    // a drawn call settled in one step is its hold row alone (lease_id on it, no hold_events row); one split
    // off first (an extension) has its events, the first naming the same lease; a placed one has no lease
    const oneStep = drawn.filter((h) => h.events.length === 0);
    expect(oneStep.length).toBeGreaterThan(200);
    for (const h of drawn.filter((d) => d.events.length > 0)) expect(h.events[0].reason).toBe(`drawn from ${h.leaseId}`);
    expect(calls.filter((h) => !h.leaseId).every((h) => h.events.length > 0 && h.events[0].reason === null)).toBe(true);
    // the metrics say the same: drawn in Redis (in the call's own admission script, or admitted ahead by the
    // key's previous call's) or placed in billing
    const c1 = await counters();
    expect(c1.lease + c1.ahead - c0.lease - c0.ahead).toBe(drawn.length);
    expect(c1.ahead - c0.ahead).toBeGreaterThan(0);
    expect(c1.billing - c0.billing).toBe(300 - drawn.length);
    // every draw split once: the calls', and those of admissions ahead that no call used, each released
    const unused = await prisma.hold.findMany({ where: { accountId, kind: 'call', id: { notIn: holdIds } }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(unused.every((h) => h.state === 'released' && h.amountMicros > 0n && h.events.at(-1)!.reason!.startsWith('admitted ahead, '))).toBe(true);
    expect(c1.split - c0.split).toBe(drawn.length + unused.length);
    // with calls arriving every few ms, the settles mostly reached the outbox riding the next call's admission
    expect(c1.ride - c0.ride).toBeGreaterThan(0);
    expect(c1.ride - c0.ride).toBeGreaterThanOrEqual(c1.own - c0.own);
    // the leases: each granted once, closed, resolved, nothing left in them
    const leases = await prisma.hold.findMany({ where: { accountId, kind: 'lease' } });
    expect(leases.length).toBeGreaterThanOrEqual(1);
    expect(leases.every((l) => l.state === 'released' && l.amountMicros === 0n && l.closedAt !== null)).toBe(true);
    expect(c1.granted - c0.granted).toBe(leases.length);
    expect(c1.closed - c0.closed).toBe(leases.length);
    // a lease's grant, less what its calls drew, is what its close gave back
    for (const l of leases) {
      const ev = await prisma.holdEvent.findMany({ where: { holdId: l.id }, orderBy: { id: 'asc' } });
      const granted = Number(ev[0].amountMicros);
      const drawnFrom = [...calls, ...unused].filter((h) => h.leaseId === l.id).reduce((n, h) => n + Number(h.amountMicros), 0);
      const back = Number(ev.find((e) => e.reason === 'lease closed: unused part returned')!.amountMicros);
      expect(drawnFrom + back).toBe(granted);
    }
    const rec = await admin<{ ties_out: boolean }>('GET', `/admin/reconciliation?account_id=${accountId}`);
    expect(rec.ties_out).toBe(true);
    // the admin API gives a one-step drawn call the history its row stands for
    const listed = await admin<{ data: Array<{ id: string; lease_id: string | null; settled_micros: number; overage_micros: number; history: unknown[] }> }>(
      'GET',
      `/admin/holds?account_id=${accountId}&state=settled&limit=1000`,
    );
    const one = listed.data.find((h) => h.id === oneStep[0].id)!;
    expect(one.lease_id).toBe(oneStep[0].leaseId);
    expect(one.history).toEqual([{ state: 'settled', amount_micros: one.settled_micros + one.overage_micros, reason: `drawn from ${one.lease_id}`, at: expect.any(String) }]);
  }, 120_000);

  it('a key with a budget never draws from its account\'s lease: its holds are placed where the budget is checked', async () => {
    const accountId = await account(100_000_000);
    const free = await newKey(accountId);
    const capped = await newKey(accountId, { budget: { limit_micros: 1_000_000, period: 'day' } });
    // a lease exists for the account (the free key's calls asked for it)
    expect(await warmLease(ports[0], free, accountId, 5)).toMatch(/^lease_/);
    const r = await chat(ports[1], capped, 'budgeted', { max_tokens: 10 });
    expect(r.status).toBe(200);
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: r.headers.get('x-tt-hold-id')! }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(hold.events[0].reason).toBeNull(); // placed, not drawn
    expect(hold.budgetPeriodStart).not.toBeNull(); // counted in the key's budget period
    const after = await drained(accountId);
    expectInvariants(after);
  }, 60_000);

  it("a call placed in billing while ingress's reply connection reconnects waits for that connection: answered, not lost to its deadline", async () => {
    const accountId = await account(100_000_000);
    // a budgeted key's hold is placed in billing by the admission script, and billing answers on the reply channel
    const capped = await newKey(accountId, { budget: { limit_micros: 1_000_000, period: 'day' } });
    expect((await chat(ports[0], capped, 'before', { max_tokens: 10 })).status).toBe(200);
    // every reply connection of this test's processes (both replicas; named after their channels) is cut
    const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    const ids = list
      .split('\n')
      .filter((l) => l.includes(` name=${prefix}rpc:r:`))
      .map((l) => /\bid=(\d+)/.exec(l)![1]);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    for (const id of ids) await redis.client('KILL', 'ID', id);
    // ingress sees the close within a few ms; ioredis reconnects after its first retry delay (50 ms): the call
    // comes in between (sent at once, its place would be answered before the channel is subscribed again)
    await sleep(20);
    const started = Date.now();
    const r = await chat(ports[0], capped, 'while the reply connection reconnects', { max_tokens: 10 });
    const took = Date.now() - started;
    expect(r.status).toBe(200);
    // well inside the place's deadline (a reply published while nobody listened would be waited for until then)
    expect(took).toBeLessThan(2000);
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: r.headers.get('x-tt-hold-id')! }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(hold.events[0].reason).toBeNull(); // placed in billing, not drawn
    const after = await drained(accountId);
    expectInvariants(after);
    expect(after.activeHolds).toBe(0);
    expect(await prisma.hold.count({ where: { accountId, state: 'settled' } })).toBe(2); // each call charged once
  }, 60_000);

  it('a stream longer than the hold TTL: its draw becomes a hold of its own at the first extension, kept alive, charged in full', async () => {
    const accountId = await account(100_000_000);
    const key = await newKey(accountId);
    // the warm-up calls' settles applied (the lease itself stays open: the stream draws from it)
    expect(await warmLease(ports[1], key, accountId, 3)).toMatch(/^lease_/);
    const before = await books(prisma, accountId);
    const words = Array.from({ length: 25 }, (_, i) => `w${i}`).join(' ');
    const r = await chat(ports[1], key, `go [[mock:reply=${words}]] [[mock:chunk_delay=200]]`, { stream: true, stream_options: { include_usage: true }, max_tokens: 100 });
    expect(r.status).toBe(200);
    const holdId = r.headers.get('x-tt-hold-id')!;
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    const states = new Set<string>();
    let last = Date.now();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
      if (Date.now() - last > 200) {
        last = Date.now();
        states.add((await prisma.hold.findUnique({ where: { id: holdId } }))?.state ?? 'not split yet');
      }
    }
    const usage = JSON.parse(text.split('\n').filter((l) => l.startsWith('data: {') && l.includes('"usage":{')).at(-1)!.slice(6)).usage;
    expect(usage.completion_tokens).toBe(25);
    expect(states.has('active')).toBe(true); // split off and alive for the 5 s of the stream
    expect(states.has('expired')).toBe(false);
    const after = await drained(accountId);
    expect(before.balance - after.balance).toBe(cost(usage));
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: holdId }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(hold.events.map((e) => e.state)).toEqual(['active', 'settled']);
    expect(hold.events[0].reason).toMatch(/^drawn from lease_/);
    expect(hold.events[0].reason).toBe(`drawn from ${hold.leaseId}`);
    expectInvariants(after);
  }, 60_000);

  it('a replayed split, settle and close change nothing', async () => {
    const accountId = await account(10_000_000);
    const leaseId = newId('lease');
    // a lease granted by billing directly (RPC through the transport is what ingress does; here the SQL of record)
    const [grant] = await prisma.$queryRaw<Array<{ status: string; amount_micros: bigint }>>`SELECT status, amount_micros FROM gw_grant_lease(${leaseId}, ${accountId}, 500000::bigint, 1000::bigint, 10::bigint, 60000::bigint)`;
    expect(grant).toMatchObject({ status: 'ok', amount_micros: 500_000n });
    const before = await books(prisma, accountId);
    expect(before.held).toBe(500_000);
    const holdId = newId('hold');
    const split = { lease_id: leaseId, hold_id: holdId, draw_micros: 7000, account_id: accountId, key_id: null, request_id: newId('req'), model: 'lease-model' };
    const usage = { request_id: split.request_id, account_id: accountId, key_id: null, model: 'lease-model', channel_id: null, tokens: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 20, reasoning_tokens: 0 } };
    const settle = JSON.stringify([{ op: 'settle', hold_id: holdId, cost_micros: 1234, usage, split }]);
    const close = JSON.stringify([{ op: 'close', lease_id: leaseId, unused_micros: 493_000 }]);
    // the settle three times (twice in one entry), the close twice
    await redis.xadd(OUTBOX.stream(prefix), '*', 'm', settle);
    await redis.xadd(OUTBOX.stream(prefix), '*', 'm', JSON.stringify([...JSON.parse(settle), ...JSON.parse(settle)]));
    await redis.xadd(OUTBOX.stream(prefix), '*', 'm', close);
    await redis.xadd(OUTBOX.stream(prefix), '*', 'm', close);
    for (let i = 0; i < 100 && (await redis.xlen(OUTBOX.stream(prefix))) > 0; i++) await sleep(50);
    const after = await drained(accountId);
    expect(after).toMatchObject({ balance: before.balance - 1234, held: 0, activeHolds: 0 });
    expect(await prisma.hold.count({ where: { id: holdId } })).toBe(1);
    expect(await prisma.ledgerEntry.count({ where: { holdId } })).toBe(1);
    expect(await prisma.usageRecord.count({ where: { requestId: split.request_id } })).toBe(1);
    const lease = await prisma.hold.findUniqueOrThrow({ where: { id: leaseId }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(lease).toMatchObject({ state: 'released', amountMicros: 0n });
    expect(lease.events.map((e) => [e.state, Number(e.amountMicros)])).toEqual([
      ['active', 500_000],
      ['released', 493_000],
    ]);
    expectInvariants(after);
  }, 30_000);

  it('a place refused for balance while the lease held part of it is tried again after the lease is closed', async () => {
    // $1: a lease takes at most a tenth of it; then a call whose hold needs 95 % of the balance
    const accountId = await account(1_000_000);
    const key = await newKey(accountId);
    const leaseId = await warmLease(ports[1], key, accountId, 1);
    expect(leaseId).toMatch(/^lease_/);
    const leased = await prisma.hold.findUniqueOrThrow({ where: { id: leaseId! } });
    expect(Number(leased.amountMicros)).toBeGreaterThan(90_000); // about a tenth of the balance
    const big = await chat(ports[1], key, 'big', { max_tokens: 316_000 });
    expect(big.status).toBe(200);
    const hold = await prisma.hold.findUniqueOrThrow({ where: { id: big.headers.get('x-tt-hold-id')! } });
    expect(Number(hold.amountMicros)).toBeGreaterThan(940_000);
    // the lease was closed for it, well before the end of its 10 s window
    const closed = await prisma.hold.findUniqueOrThrow({ where: { id: leaseId! } });
    expect(closed.closedAt).not.toBeNull();
    expect(closed.closedAt!.getTime() - leased.createdAt.getTime()).toBeLessThan(5000);
    const after = await drained(accountId);
    expectInvariants(after);
    // and a hold beyond the whole balance is still a 402
    const tooBig = await chat(ports[1], key, 'too big', { max_tokens: 399_000 });
    expect(tooBig.status).toBe(402);
    expectInvariants(await drained(accountId));
  }, 60_000);
  it('an admin debit refused while a lease reserved part of the balance closes the lease and goes through', async () => {
    const accountId = await account(1_000_000);
    const key = await newKey(accountId);
    const leaseId = await warmLease(ports[1], key, accountId, 1);
    expect(leaseId).toMatch(/^lease_/);
    const before = await books(prisma, accountId);
    expect(before.held).toBeGreaterThan(90_000); // the lease: about a tenth of the balance
    const debit = -(before.balance - 10_000); // more than balance - held, less than the balance
    const r = await fetch(`${base(ports[1])}/admin/accounts/${accountId}/adjustments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount_micros: debit, reference: 'lease-debit', reason: 'test debit' }),
    });
    expect(r.status).toBe(201);
    const closed = await prisma.hold.findUniqueOrThrow({ where: { id: leaseId! } });
    expect(closed.closedAt).not.toBeNull();
    const after = await drained(accountId);
    expect(after.balance).toBe(10_000);
    expectInvariants(after);
  }, 60_000);

  it('calls in sequence are admitted one call ahead: each charged once at its own cost, the unused admission released', async () => {
    const accountId = await account(100_000_000);
    const key = await newKey(accountId);
    // (the second replica, whose lease windows of 10 s leave room for admissions ahead of ADMIT_AHEAD_MS, 1 s)
    await warmLease(ports[1], key, accountId, 3);
    const via = async (v: string) => metric(await scrape(`http://127.0.0.1:${ops[2]}`), 'gateway_call_holds_total', { via: v });
    const ahead0 = await via('ahead');
    const before = await books(prisma, accountId);
    let expected = 0;
    const holds: Array<{ id: string; estimate: number }> = [];
    for (let i = 0; i < 40; i++) {
      // a dry run of the same body says the call's estimate: the hold is at least that. The bound grows by a
      // token a call, as an agent's prompt grows every turn: each call still fits the one admitted ahead of it
      const body = { max_tokens: 20 + i };
      const dry = await fetch(`${base(ports[1])}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-tt-dry-run': 'true' },
        body: JSON.stringify({ model: 'lease-model', messages: [{ role: 'user', content: `seq ${i}` }], ...body }),
      });
      const estimate = ((await dry.json()) as { estimated_cost_micros: number }).estimated_cost_micros;
      const r = await chat(ports[1], key, `seq ${i}`, body);
      expect(r.status).toBe(200);
      expected += cost(((await r.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage);
      holds.push({ id: r.headers.get('x-tt-hold-id')!, estimate });
    }
    const ahead = (await via('ahead')) - ahead0;
    expect(ahead).toBeGreaterThanOrEqual(30); // most of them: the first after the warm-up may still go through the script
    const after = await drained(accountId);
    expect(after.held).toBe(0);
    expect(before.balance - after.balance).toBe(expected); // each call charged once, at its own cost
    expectInvariants(after);
    const rows = await prisma.hold.findMany({ where: { id: { in: holds.map((h) => h.id) } } });
    expect(rows).toHaveLength(40);
    for (const h of holds) {
      const row = rows.find((x) => x.id === h.id)!;
      expect(row.state).toBe('settled');
      expect(Number(row.amountMicros)).toBeGreaterThanOrEqual(h.estimate); // an admission ahead holds at least the call's estimate
      expect(Number(row.amountMicros)).toBeLessThanOrEqual(Math.ceil(h.estimate * 1.1)); // and at most a tenth above it
    }
    expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(43); // the warm-up's 3 and the 40 (dry runs make none)
    // the last call's admission of a next call that never came: released after ADMIT_AHEAD_MS, its draw back in the lease's account
    const aheadUnused = await releasedFor(accountId, 'admitted ahead, unused');
    expect(aheadUnused.length).toBeGreaterThanOrEqual(1);
    const rec = await admin<{ ties_out: boolean }>('GET', `/admin/reconciliation?account_id=${accountId}`);
    expect(rec.ties_out).toBe(true);
  }, 60_000);

  it('calls sent side by side are each admitted ahead once the key keeps one admission ahead per call in flight (at most AHEAD_MAX_DEPTH)', async () => {
    const accountId = await account(100_000_000);
    const key = await newKey(accountId);
    await warmLease(ports[1], key, accountId, 3);
    const via = async (v: string) => metric(await scrape(`http://127.0.0.1:${ops[2]}`), 'gateway_call_holds_total', { via: v });
    const before = await books(prisma, accountId);
    let expected = 0;
    let served = 0;
    const round = async (i: number) => {
      const rs = await Promise.all([0, 1, 2].map((j) => chat(ports[1], key, `side ${i}.${j}`, { max_tokens: 20 })));
      for (const r of rs) {
        expect(r.status).toBe(200);
        expected += cost(((await r.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage);
        served++;
      }
    };
    // three calls at a time: one admission ahead serves one of them; the others place their own and deepen the key's stock
    for (let i = 0; i < 4; i++) await round(i);
    const ahead0 = await via('ahead');
    for (let i = 4; i < 10; i++) await round(i);
    // with one admission ahead per key, at most one call in three (and a joiner) would come in on one: 6 to 12 of 18
    expect((await via('ahead')) - ahead0).toBeGreaterThanOrEqual(15);
    const after = await drained(accountId);
    expect(after.held).toBe(0);
    expect(before.balance - after.balance).toBe(expected); // each call charged once, at its own cost
    expectInvariants(after);
    expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(3 + served);
    // when the calls stop, what the key held ahead goes back: no more than AHEAD_MAX_DEPTH (4)
    const unused = await releasedFor(accountId, 'admitted ahead, unused');
    expect(unused.length).toBeGreaterThanOrEqual(1);
    expect(unused.length).toBeLessThanOrEqual(4);
    const rec = await admin<{ ties_out: boolean }>('GET', `/admin/reconciliation?account_id=${accountId}`);
    expect(rec.ties_out).toBe(true);
  }, 60_000);

  it("a call admitted ahead asks for its key's next admission when it ends, not while it waits on its upstream", async () => {
    const accountId = await account(100_000_000);
    const created = await admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'k' });
    // the key's sliding window in Redis: one member per call admitted, and one per admission ahead
    const slots = `${prefix}rl:${created.id}:r`;
    const via = async () => metric(await scrape(`http://127.0.0.1:${ops[2]}`), 'gateway_call_holds_total', { via: 'ahead' });
    // one body for every call here (same estimate), streamed or not; streamed, its three pieces come 300 ms apart
    const content = 'slow [[mock:reply=one two three]] [[mock:chunk_delay=300]]';
    await warmLease(ports[1], created.key, accountId, 3);
    expect((await chat(ports[1], created.key, content, { max_tokens: 10 })).status).toBe(200); // leaves an admission ahead (1 s)
    const before = await redis.zcard(slots);
    const ahead0 = await via();
    const r = await chat(ports[1], created.key, content, { max_tokens: 10, stream: true });
    expect(r.status).toBe(200);
    await sleep(400);
    // the stream came in on the admission ahead and is still running: no slot taken for the call after it yet
    expect((await via()) - ahead0).toBe(1);
    expect(await redis.zcard(slots)).toBe(before);
    expect(await r.text()).toContain('[DONE]');
    // it ended: the next call's admission was asked for then, and the next call takes it
    for (let i = 0; i < 50 && (await redis.zcard(slots)) === before; i++) await sleep(20);
    expect(await redis.zcard(slots)).toBe(before + 1);
    expect((await chat(ports[1], created.key, content, { max_tokens: 10 })).status).toBe(200);
    expect((await via()) - ahead0).toBe(2);
    const after = await drained(accountId);
    expect(after.held).toBe(0);
    expectInvariants(after);
    expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(3 + 3);
  }, 60_000);

  it('a call that comes while the admission ahead for it is still in Redis waits for that answer and takes it', async () => {
    const accountId = await account(100_000_000);
    const key = await newKey(accountId);
    const via = async (v: string) => metric(await scrape(`http://127.0.0.1:${ops[2]}`), 'gateway_call_holds_total', { via: v });
    const content = 'quick [[mock:reply=a b]] [[mock:chunk_delay=100]]';
    await warmLease(ports[1], key, accountId, 3);
    expect((await chat(ports[1], key, content, { max_tokens: 10 })).status).toBe(200);
    const ahead0 = await via('ahead');
    const lease0 = await via('lease');
    const r = await chat(ports[1], key, content, { max_tokens: 10, stream: true });
    expect(r.status).toBe(200);
    // Redis holds every write (scripts included) for 600 ms from now: the stream ends in that time, so the
    // ask for the next call's admission, made at its end, waits in Redis while the next call arrives
    await redis.call('CLIENT', 'PAUSE', '600', 'WRITE');
    const t0 = Date.now();
    expect(await r.text()).toContain('[DONE]');
    const sentAt = Date.now();
    const next = await chat(ports[1], key, content, { max_tokens: 10 });
    expect(sentAt - t0).toBeLessThan(500); // (the stream ended and the next call was sent well inside the pause)
    expect(next.status).toBe(200);
    // both came in on an admission ahead: the second waited for the one asked for at the first's end
    expect((await via('ahead')) - ahead0).toBe(2);
    expect((await via('lease')) - lease0).toBe(0);
    const after = await drained(accountId);
    expect(after.held).toBe(0);
    expectInvariants(after);
    expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(3 + 3);
  }, 60_000);

  it('an admission ahead the next call does not fit is given back and a fresh one asked for; after three misses in a row, none for a while', async () => {
    const accountId = await account(100_000_000);
    const key = await newKey(accountId);
    await warmLease(ports[1], key, accountId, 3); // (max_tokens 10: the last one leaves an admission ahead of that size)
    const via = async () => metric(await scrape(`http://127.0.0.1:${ops[2]}`), 'gateway_call_holds_total', { via: 'ahead' });
    const ahead0 = await via();
    // calls that alternate between a small and a large bound: none fits the admission ahead of the one before
    for (let i = 0; i < 12; i++) {
      const r = await chat(ports[1], key, `size ${i}`, { max_tokens: i % 2 === 0 ? 400 : 10 });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    expect((await via()) - ahead0).toBe(0);
    const after = await drained(accountId);
    expect(after.held).toBe(0);
    expectInvariants(after);
    expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(15);
    // the first three calls each found one that did not fit (the warm-up's, then each other's); from then on none was asked for
    expect(await releasedFor(accountId, 'admitted ahead, did not fit the next call')).toHaveLength(3);
    expect(await releasedFor(accountId, 'admitted ahead, unused')).toHaveLength(0);
  }, 60_000);

  it('a key whose calls come quick is admitted ahead two at a time (an admission script every second call); slower, one at a time', async () => {
    const port = await freePort();
    const opsPort = await freePort();
    // the default ADMIT_AHEAD_BATCH (2) and ADMIT_AHEAD_MS (1 s): a call that uses its admission ahead within 250 ms of its ask is quick
    const replica = await spawnService('ingress', env({ PORT: String(port), OPS_PORT: String(opsPort), LEASE_DRAW_MS: '10000' }), /listening/);
    try {
      const accountId = await account(100_000_000);
      const created = await admin('POST', `/admin/accounts/${accountId}/keys`, { name: 'k' });
      const slots = `${prefix}rl:${created.id}:r`;
      const via = async () => metric(await scrape(`http://127.0.0.1:${opsPort}`), 'gateway_call_holds_total', { via: 'ahead' });
      // the admissions ahead in the key's window, counted by the script that took them (a script reads Redis's clock once)
      const aheadScripts = async (): Promise<Map<string, number>> => {
        const by = new Map<string, number>();
        for (const m of await redis.zrange(slots, '0', '-1')) {
          const script = m.split(':')[0];
          if (m.endsWith(':a')) by.set(script, (by.get(script) ?? 0) + 1);
        }
        return by;
      };
      await warmLease(port, created.key, accountId, 3);
      const before = await books(prisma, accountId);
      const ahead0 = await via();
      const scripts0 = await aheadScripts();
      let expected = 0;
      const call = async (i: number) => {
        const r = await chat(port, created.key, `quick ${i}`, { max_tokens: 20 });
        expect(r.status).toBe(200);
        expected += cost(((await r.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage);
      };
      for (let i = 0; i < 30; i++) await call(i);
      // every call came in on an admission ahead (the first may have met the warm-up's still in Redis)
      expect((await via()) - ahead0).toBeGreaterThanOrEqual(29);
      const quick = await aheadScripts();
      const fresh = [...quick].filter(([t]) => !scripts0.has(t)).map(([, n]) => n);
      expect(fresh.reduce((a, n) => a + n, 0)).toBeGreaterThanOrEqual(29);
      // two a script: one at a time would be a script a call (about 30)
      expect(fresh.length).toBeLessThanOrEqual(18);
      expect(fresh.filter((n) => n === 2).length).toBeGreaterThanOrEqual(12);

      // calls 300 ms apart use their admission ahead more than 250 ms after its ask: asked for one at a time
      for (let i = 0; i < 6; i++) {
        await sleep(300);
        await call(100 + i);
      }
      const slow = [...(await aheadScripts())].filter(([t]) => !quick.has(t)).map(([, n]) => n);
      expect(slow.length).toBeGreaterThanOrEqual(4);
      expect(slow.every((n) => n === 1)).toBe(true);
      expect((await via()) - ahead0).toBeGreaterThanOrEqual(35);

      const after = await drained(accountId);
      expect(after.held).toBe(0);
      expect(before.balance - after.balance).toBe(expected); // each call charged once, at its own cost
      expectInvariants(after);
      expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(3 + 36);
      // what the key held ahead when its calls stopped went back
      const unused = await releasedFor(accountId, 'admitted ahead, unused');
      expect(unused.length).toBeGreaterThanOrEqual(1);
      expect(unused.length).toBeLessThanOrEqual(2);
      const rec = await admin<{ ties_out: boolean }>('GET', `/admin/reconciliation?account_id=${accountId}`);
      expect(rec.ties_out).toBe(true);
    } finally {
      await stop(replica);
    }
  }, 60_000);

  it('an ingress shut down (SIGTERM) gives back the admission ahead it held: nothing expires', async () => {
    const port = await freePort();
    const replica = await spawnService('ingress', env({ PORT: String(port), OPS_PORT: String(await freePort()), LEASE_DRAW_MS: '10000', ADMIT_AHEAD_MS: '5000' }), /listening/);
    let accountId = '';
    try {
      accountId = await account(100_000_000);
      const key = await newKey(accountId);
      await warmLease(port, key, accountId, 4); // the last of these leaves an admission ahead, good for 5 s
    } finally {
      await stop(replica); // at once: well before the admission ahead would expire
    }
    const after = await drained(accountId);
    expect(after.held).toBe(0);
    expectInvariants(after);
    expect(await prisma.hold.count({ where: { accountId, state: 'expired' } })).toBe(0);
    expect((await releasedFor(accountId, 'admitted ahead, unused')).length).toBeGreaterThanOrEqual(1);
    expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(4);
  }, 60_000);

  it('admission ahead never lets a key past its rpm in the window, from two replicas at once, and the headers count exactly in sequence', async () => {
    const extra: Service[] = [];
    try {
      const p = [await freePort(), await freePort()];
      const o = [await freePort(), await freePort()];
      for (let i = 0; i < 2; i++) extra.push(await spawnService('ingress', env({ PORT: String(p[i]), OPS_PORT: String(o[i]), ADMIT_AHEAD_MIN_RPM: '5', LEASE_DRAW_MS: '10000' }), /listening/));
      const aheadUsed = async (i: number) => metric(await scrape(`http://127.0.0.1:${o[i]}`), 'gateway_call_holds_total', { via: 'ahead' });
      const accountId = await account(100_000_000);
      // in sequence on one replica: 10 calls, the 11th refused, remaining counting down as without admission ahead
      const seqKey = await newKey(accountId, { rpm: 10 });
      const remaining: string[] = [];
      let status = 200;
      let n = 0;
      for (; n < 12 && status === 200; n++) {
        const r = await chat(p[0], seqKey, `rpm ${n}`, { max_tokens: 10 });
        status = r.status;
        if (status === 200) remaining.push(r.headers.get('x-ratelimit-remaining-requests')!);
        await r.arrayBuffer();
      }
      expect(status).toBe(429);
      // each slot reported once (in order unless a call overtook the admission ahead of it still in Redis)
      expect([...remaining].sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(await aheadUsed(0)).toBeGreaterThanOrEqual(5); // most of those calls were admitted ahead
      // 60 calls at once, half on each replica, for a key with rpm 20: at most 20 served, the rest 429
      const hotKey = await newKey(accountId, { rpm: 20 });
      // a few calls first, in sequence on each replica, so that both hold an admission ahead for the key
      let served = 0;
      for (let i = 0; i < 4; i++) if ((await chat(p[i % 2], hotKey, `warm ${i}`, { max_tokens: 10 })).status === 200) served++;
      const codes = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
        const r = await chat(p[i % 2], hotKey, `burst ${i}`, { max_tokens: 10 });
        await r.arrayBuffer();
        return r.status;
      }));
      served += codes.filter((c) => c === 200).length;
      expect(await aheadUsed(1)).toBeGreaterThanOrEqual(1); // the second replica's burst began with one
      expect(codes.every((c) => c === 200 || c === 429)).toBe(true);
      expect(served).toBeLessThanOrEqual(20);
      expect(served).toBeGreaterThanOrEqual(18); // an admission ahead not yet used may hold a slot per replica
      const after = await drained(accountId);
      expectInvariants(after);
      expect(await prisma.usageRecord.count({ where: { accountId } })).toBe(10 + served);
    } finally {
      await Promise.all(extra.map((s) => stop(s)));
    }
  }, 90_000);

  it('kill -9 of an ingress mid-stream: the draw it left expires (in its lease or as its own hold) and is reported with its amount', async () => {
    const accountId = await account(100_000_000);
    const key = await newKey(accountId);
    await warmLease(ports[0], key, accountId, 3);
    const before = await books(prisma, accountId);
    const r = await chat(ports[0], key, `slow ${'w '.repeat(40)} [[mock:chunk_delay=200]]`, { stream: true, max_tokens: 100 });
    expect(r.status).toBe(200);
    const holdId = r.headers.get('x-tt-hold-id')!;
    await r.body!.getReader().read(); // under way, its hold drawn
    const victim = services.find((s) => s.name === 'ingress')!;
    await kill9(victim);
    // the other replica's closer gives back what no call drew; the dead call's draw stays held until its
    // hold (if it was split off before the kill) or its lease expires, then nothing is held
    const after = await drained(accountId);
    expect(after).toMatchObject({ balance: before.balance, held: 0, debt: 0 });
    expectInvariants(after);
    // either the call's own hold (split at an extension before the kill) or the lease holding its draw, and the
    // lease if it also held the draw of the key's next call, admitted ahead by the warm-up calls and never used
    const expired = await prisma.hold.findMany({ where: { accountId, state: 'expired' } });
    expect(expired.length).toBeGreaterThanOrEqual(1);
    expect(expired.filter((e) => e.kind === 'lease').length).toBeLessThanOrEqual(1);
    for (const e of expired) {
      if (e.kind === 'call') expect(e.id).toBe(holdId);
      else expect(e.kind).toBe('lease');
      expect(Number(e.amountMicros)).toBeGreaterThan(0);
    }
    // (asked of the replica still running)
    const rec = await fetch(`${base(ports[1])}/admin/reconciliation?account_id=${accountId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const report = (await rec.json()) as { ties_out: boolean; accounts: Array<{ expired_unsettled_holds: number; expired_unsettled_micros: number }> };
    expect(report.ties_out).toBe(true);
    expect(report.accounts[0]).toMatchObject({ expired_unsettled_holds: expired.length, expired_unsettled_micros: expired.reduce((n, e) => n + Number(e.amountMicros), 0) });
  }, 60_000);
});
