import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DomainError, LEASE, LEASE_CLOSE_FN, newId, type HoldPlaced, type PlaceHoldRequest } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import type Redis from 'ioredis';
import { ADMIT_FN } from '../rate-limit/rate-limit.service';
import { BILLING, CONFIG, REDIS_CMD } from '../shared/tokens';
import { callHoldsVia } from '../ops/ingress-metrics';
import { LeaseBook } from './lease-book.service';
import { ADD_TOKENS_FN, SettleOutbox } from './settle-outbox.service';

/** What a place also asks the rate limiter, in the same round trip. */
export interface Admission {
  reqKey: string;
  tokKey: string;
  rpm: number;
  tpm: number;
  /** count the call (false: only checked, e.g. a dry run) */
  count: boolean;
  /** the limiter's answer, [ok, requests, tokens, ttl ms]; throw to refuse the place (a 429) */
  onResult: (r: [number, number, number, number]) => void;
}

// Admits each call of a tick under its key's limits, draws the admitted calls' holds that it can from their
// accounts' credit leases (LeaseBook), and puts one 'holds.placeMany' request with the rest on billing's
// queue: admission and the hold in one round trip, and no billing message for a drawn hold. The same round
// trip carries the settle outbox's waiting entry (SettleOutbox.takeRide): appended to the stream first, with
// the finished calls' tokens added to their counters. KEYS[1] is billing's queue, KEYS[2] the settle
// outbox ('' with the envelope's head and tail when no item of the batch may be placed there: admissions ahead
// alone), then per item a request counter, a token counter, the account's lease hash and the draw's marker
// (both '' when the hold may not be drawn), then the ride's token counters. ARGV[1..8]: the envelope's head
// and tail, the window, LEASE_MIN_DRAWS, how long before a lease's window ends a fresh one is asked for,
// the number of the ride's token counters, the ride's entry ('' none) and ADMIT_AHEAD_MS; then per item rpm,
// tpm, count (1/0; rpm -1: no limit), the place's JSON, the hold to draw (-1: place it), the key's no-draw
// field and the item's kind: 'c' a call, 'a' the admission of a key's next call ahead of it (see HoldPlacer);
// then the ride's token counts. Per item: the limiter's answer, then the lease drawn
// from ('' if placed) and 1 if a fresh lease should be asked for. The marker (the hold's id, kept for
// DRAW_MARK_MS) makes a draw happen once: a script that ran but whose answer was lost (a Redis restart
// mid-reply) is sent again by the client, and must not draw twice.
// An 'a' item is only admitted while the lease is well clear of running low or ending (a fresh lease is
// asked for by the calls themselves), never for a key with a budget, never placed in billing; its slot in
// the window is counted ADMIT_AHEAD_MS late (ADMIT_FN), and a refused one counts nothing.
/** how long a draw's marker is kept: longer than any reconnect and resend of the admission script */
const DRAW_MARK_MS = 15_000;

export const ADMIT_AND_PLACE_LUA = `${ADMIT_FN}${LEASE_CLOSE_FN}${ADD_TOKENS_FN}
local out = {}
local parts = {}
local window = tonumber(ARGV[3])
local minDraws = tonumber(ARGV[4])
local refreshMs = tonumber(ARGV[5])
local rideTokens = tonumber(ARGV[6])
local aheadMs = tonumber(ARGV[8])
local items = (#KEYS - 2 - rideTokens) / 4
if ARGV[7] ~= '' then redis.call('XADD', KEYS[2], '*', 'm', ARGV[7]) end
for j = 1, rideTokens do addTokens(KEYS[2 + items * 4 + j], ARGV[8 + items * 7 + j], window) end
for i = 1, items do
  local k = 2 + (i - 1) * 4
  local a = 8 + (i - 1) * 7
  local rpm = tonumber(ARGV[a + 1])
  if ARGV[a + 7] == 'a' then
    local r = {0, 0, 0, 0, '', 0}
    local draw = tonumber(ARGV[a + 5])
    local done = redis.call('GET', KEYS[k + 4])
    if done then
      r = {1, redis.call('ZCARD', KEYS[k + 1]), tonumber(redis.call('GET', KEYS[k + 2]) or '0'), window, done, 0}
    else
      local lk = KEYS[k + 3]
      local l = redis.call('HMGET', lk, 'id', 'left', 'until', ARGV[a + 6], 'size')
      if l[1] and not l[4] and tonumber(l[3]) - gwNow() >= refreshMs + aheadMs
         and tonumber(l[2]) - draw >= math.max(draw * minDraws, tonumber(l[5] or 0)) / 4 then
        r = admit(KEYS[k + 1], KEYS[k + 2], rpm, tonumber(ARGV[a + 2]), window, true, aheadMs)
        r[5] = ''
        r[6] = 0
        if r[1] == 1 then
          redis.call('HINCRBY', lk, 'left', -draw)
          redis.call('SET', KEYS[k + 4], l[1], 'PX', ${DRAW_MARK_MS})
          r[5] = l[1]
        end
      end
    end
    out[i] = r
  else
  local r = {1, 0, 0, 0}
  if rpm >= 0 then r = admit(KEYS[k + 1], KEYS[k + 2], rpm, tonumber(ARGV[a + 2]), window, ARGV[a + 3] == '1', 0) end
  r[5] = ''
  r[6] = 0
  if r[1] == 1 then
    local draw = tonumber(ARGV[a + 5])
    local drawn = false
    local done = draw >= 0 and redis.call('GET', KEYS[k + 4])
    if done then
      r[5] = done
      drawn = true
    elseif draw >= 0 then
      local lk = KEYS[k + 3]
      local l = redis.call('HMGET', lk, 'id', 'left', 'until', ARGV[a + 6], 'size')
      if l[4] then
        -- a key with a budget: its hold is placed, where the budget is checked
      elseif not l[1] then
        r[6] = 1
      else
        local untilMs = tonumber(l[3])
        if untilMs <= gwNow() then
          -- its window has passed: retired here, its unused part given back through the outbox
          redis.call('HDEL', lk, 'id', 'left', 'until')
          closeLease(KEYS[2], l[1], l[2])
          r[6] = 1
        elseif tonumber(l[2]) >= draw then
          local left = redis.call('HINCRBY', lk, 'left', -draw)
          redis.call('SET', KEYS[k + 4], l[1], 'PX', ${DRAW_MARK_MS})
          r[5] = l[1]
          drawn = true
          -- the next lease is asked for while a quarter of this one is left: its grant then lands before calls
          -- run out of it, at any rate of calls a lease lasts a second or more for
          if left < math.max(draw * minDraws, tonumber(l[5] or 0)) / 4 or untilMs - gwNow() < refreshMs then r[6] = 1 end
        else
          r[6] = 1
        end
      end
    end
    if not drawn then parts[#parts + 1] = ARGV[a + 4] end
  end
  out[i] = r
  end
end
admitDone(window)
if #parts > 0 then redis.call('LPUSH', KEYS[1], ARGV[1] .. table.concat(parts, ',') .. ARGV[2]) end
return out
`;

type Verdict = [ok: number, requests: number, tokens: number, ttl: number, lease: string, wantLease: number];
/** a prepared 'holds.placeMany' (RedisRpcClient.prepareCall) */
type PlaceCall = ReturnType<typeof RedisRpcClient.prototype.prepareCall<'holds.placeMany'>>;
type PlacerRedis = Redis & { gwAdmitPlace(...args: Array<string | number>): Promise<Verdict[]> };

interface Pending {
  req: PlaceHoldRequest;
  admit?: Admission;
  /** may be drawn from the account's lease (only with an admission) */
  draw: boolean;
  resolve: (h: HoldPlaced) => void;
  reject: (e: unknown) => void;
  /** an admission of the key's next call ahead of it ('a' in the script); answered by gotAhead, not resolve */
  ahead?: { slot: string; sentAt: number };
}

/** A key's next call, admitted and drawn for before it arrives (ADMIT_AHEAD_MS). */
interface Ahead {
  /** the id its draw was made under (its marker); the call that uses it keeps its own hold id */
  id: string;
  amount: number;
  leaseId: string;
  accountId: string;
  keyId: string;
  model: string;
  verdict: [number, number, number, number];
  /** used only before this (local clock): asked for ADMIT_AHEAD_MS before it, and the slot counted as made then */
  until: number;
}

/**
 * an admission ahead draws this much more than the call that asked for it, so that a slightly dearer next
 * call (an agent's prompt grows a little every turn) still fits; a call takes one only if its own estimate is
 * within this factor of it, so no call's hold is more than this much above its estimate
 */
export const AHEAD_HEADROOM = 1.1;

/**
 * the most admissions ahead kept (in hand or asked for) per key and model: a client that sends calls side by side
 * (an agent's parallel tool calls, a batch) needs one per call in flight, or all but one wait on Redis
 */
export const AHEAD_MAX_DEPTH = 4;

/** after this many admissions ahead in a row that the next call did not fit, none for AHEAD_BACKOFF_MS */
const AHEAD_MAX_MISSES = 3;
const AHEAD_BACKOFF_MS = 10_000;

/**
 * one admission ahead per key and model: a client that alternates models (an agent's main calls and its small
 * side calls on a cheaper model) has a fitting one for each
 */
const aheadSlot = (req: PlaceHoldRequest): string => `${req.key_id}\u0000${req.model}`;

/** a count per slot (asks in flight, calls running): one more, or one less and gone at zero */
function countUp(counts: Map<string, number>, slot: string): void {
  counts.set(slot, (counts.get(slot) ?? 0) + 1);
}
function countDown(counts: Map<string, number>, slot: string): void {
  const n = (counts.get(slot) ?? 1) - 1;
  if (n > 0) counts.set(slot, n);
  else counts.delete(slot);
}

/**
 * Places holds in billing, the places of one event-loop tick in one message ('holds.placeMany'): under
 * load one transport round trip carries many holds, at no added delay when idle (a lone place goes at
 * the end of its own tick). A place may carry its call's rate-limit admission: then the limiter and the
 * queue are one script call, and a refused call never reaches billing. Each place answers on its own.
 *
 * Admission one call ahead (ADMIT_AHEAD_MS > 0): a call of a key with rpm >= ADMIT_AHEAD_MIN_RPM whose hold
 * is drawn from a lease also asks, in the same script, for the key's next call of the same model: a slot in the window and a
 * draw of AHEAD_HEADROOM times its hold. The next call of that key on this replica, if it comes within
 * ADMIT_AHEAD_MS and its estimate is between the draw / AHEAD_HEADROOM and the draw, takes both at once (its
 * hold is the drawn amount) and starts without
 * waiting on Redis; it asks for the one after it in a script it does not wait for, which also carries the
 * settle outbox's ride. An admission ahead that no call used in time is released through the outbox like
 * any drawn hold (its own hold row, released, reason "admitted ahead, unused"), and its slot stays counted:
 * a key loses at most its depth's slots of its window (plus ADMIT_AHEAD_BATCH - 1, see below) per model per
 * replica per pause, hence the minimum rpm. A key whose calls come quick (its admission ahead used within a
 * quarter of ADMIT_AHEAD_MS of the ask) is given ADMIT_AHEAD_BATCH at a time: an ask is made when what it holds
 * and has asked for falls below its depth, and tops it up to depth + ADMIT_AHEAD_BATCH - 1, so a client calling
 * in sequence needs a script every second call.
 * Depth: a key calling in sequence keeps one admission ahead; a call that finds none in hand or on its way
 * while the key's other calls run (calls side by side) makes the key keep one more, up to AHEAD_MAX_DEPTH, so
 * each call in flight has its own; each time admissions ahead expire unused it keeps one less. One
 * that the next call does not fit is given back the same way and a fresh one asked for; after
 * AHEAD_MAX_MISSES of those in a row, a key and model is admitted one call at a time for AHEAD_BACKOFF_MS.
 */
@Injectable()
export class HoldPlacer implements OnModuleDestroy {
  private tick: Pending[] = [];
  private scheduled = false;
  private readonly redis: PlacerRedis;
  /** the admissions ahead in hand per key and model (aheadSlot), oldest first; at most the slot's depth */
  private readonly ahead = new Map<string, Ahead[]>();
  /** per slot, how many admissions ahead it keeps (in hand plus asked for): 1 to AHEAD_MAX_DEPTH (see place) */
  private readonly depth = new Map<string, number>();
  /** per slot, the calls in flight that came in on an admission ahead (their end asks for the next) */
  private readonly running = new Map<string, number>();
  /** the admissions ahead that the next call did not fit, in a row, per slot (and the backoff after too many) */
  private readonly misses = new Map<string, { n: number; at: number; until: number }>();
  /**
   * slots whose last admission ahead was used within a quarter of ADMIT_AHEAD_MS of its ask: their asks take
   * ADMIT_AHEAD_BATCH at a time (the later ones of a batch are still used well within their time)
   */
  private readonly quick = new Set<string>();
  /** per key-and-model slot, how many of its admissions ahead are in a script now */
  private readonly asking = new Map<string, number>();
  /** per slot, the calls that wait for the asks in flight (see place), at most one per ask, first come first served */
  private readonly joiners = new Map<string, Pending[]>();
  /** calls that came in on an admission ahead, by hold id: the ask for the key's next call waits for their end (callEnded) */
  private readonly refills = new Map<string, { req: PlaceHoldRequest; admit: Admission; at: number }>();
  private readonly aheadMs: number;
  private sweeper?: NodeJS.Timeout;
  /** shutting down: an admission ahead that comes back now is given back at once */
  private closing = false;

  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    @Inject(REDIS_CMD) redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
    private readonly leases: LeaseBook,
    private readonly outbox: SettleOutbox,
  ) {
    redis.defineCommand('gwAdmitPlace', { lua: ADMIT_AND_PLACE_LUA });
    this.redis = redis as PlacerRedis;
    // at most a quarter of a lease's draw window: an ahead is only taken while the window has that plus the
    // lease refresh time left, so it is used (or given back) while its lease is open
    this.aheadMs = config.HOLD_LEASE ? Math.min(config.ADMIT_AHEAD_MS, Math.floor(leases.drawMs / 4)) : 0;
    if (this.aheadMs > 0) {
      this.sweeper = setInterval(() => this.sweepAhead(Date.now()), Math.max(50, Math.floor(this.aheadMs / 2)));
      this.sweeper.unref();
    }
  }

  /** what no call will use any more goes back (through the outbox, which drains after this) */
  onModuleDestroy(): void {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweepAhead(Infinity);
  }

  /**
   * draw: the hold may come from the account's credit lease (HOLD_LEASE, a call's hold with an admission,
   * no larger than LeaseBook.maxDraw); the answer then carries the split that makes it a hold row later.
   */
  place(req: PlaceHoldRequest, admit?: Admission, draw = false): Promise<HoldPlaced> {
    const drawable = draw && admit !== undefined && this.leases.enabled && req.amount_micros <= this.leases.maxDraw;
    const aheadable = drawable && this.aheadMs > 0 && admit!.count && req.key_id != null && admit!.rpm >= this.config.ADMIT_AHEAD_MIN_RPM;
    if (aheadable) {
      const slot = aheadSlot(req);
      const taken = this.takeAhead(slot, req, admit!);
      if (taken) return Promise.resolve(taken);
      // the key's previous call asked for this one's admission when it ended, and the answer is on its way:
      // waiting for it is shorter than a round trip of its own (a client calling in sequence comes back fast)
      const asked = this.asking.get(slot) ?? 0;
      const waiting = this.joiners.get(slot);
      if (asked > (waiting?.length ?? 0)) {
        return new Promise((resolve, reject) => {
          const w: Pending = { req, admit: admit!, draw: true, resolve, reject };
          if (waiting) waiting.push(w);
          else this.joiners.set(slot, [w]);
        });
      }
      // none in hand or on its way for this call while others of the key's calls run: the key sends calls side
      // by side, so the slot keeps one more admission ahead (its asks below and at each call's end top it up)
      if (asked > 0 || (this.running.get(slot) ?? 0) > 0) this.depth.set(slot, Math.min(AHEAD_MAX_DEPTH, (this.depth.get(slot) ?? 1) + 1));
    }
    return new Promise((resolve, reject) => this.placeNow({ req, admit, draw: drawable, resolve, reject }, aheadable));
  }

  /**
   * The call that held hold_id ended (settled or released). If it came in on an admission ahead, the key's
   * next one is asked for now, in a script that also carries the call's settle (the outbox's ride): not
   * earlier, while the call waited on its upstream, where Redis's answer would compete with the upstream's
   * for the cores and this process (measured: about 0.7 ms more per call at 200 calls/s).
   */
  callEnded(holdId: string): void {
    const r = this.refills.get(holdId);
    if (!r) return;
    this.refills.delete(holdId);
    countDown(this.running, aheadSlot(r.req));
    if (!this.closing) this.askAhead(r.req, r.admit);
  }

  /** the key's admission ahead for this call, if there is one it fits (else given back), taken */
  private takeAhead(slot: string, req: PlaceHoldRequest, admit: Admission): HoldPlaced | undefined {
    const stock = this.ahead.get(slot);
    if (!stock) return undefined;
    const now = Date.now();
    let a: Ahead | undefined;
    while ((a = stock.shift()) && now >= a.until) this.releaseAhead(a, 'admitted ahead, unused');
    if (stock.length === 0) this.ahead.delete(slot);
    if (!a) return undefined;
    if (a.accountId === req.account_id && req.amount_micros <= a.amount && a.amount <= Math.ceil(req.amount_micros * AHEAD_HEADROOM)) {
      this.misses.delete(slot);
      // used within a quarter of ADMIT_AHEAD_MS of its ask (made at until - ADMIT_AHEAD_MS)
      if (now - (a.until - this.aheadMs) <= this.aheadMs / 4) this.quick.add(slot);
      else this.quick.delete(slot);
      admit.onResult(a.verdict); // admitted: it was counted, so this never refuses
      callHoldsVia.ahead.inc();
      this.refills.set(req.hold_id!, { req, admit, at: now });
      countUp(this.running, slot);
      return this.drawn({ ...req, amount_micros: a.amount }, a.leaseId);
    }
    // its hold would be too small for this call, or too large: given back (with the rest in hand, sized alike),
    // and a fresh one sized for this call asked for with the call's own; a key and model whose calls keep
    // changing size stop being admitted ahead a while
    this.releaseAhead(a, 'admitted ahead, did not fit the next call');
    for (const other of stock.splice(0)) this.releaseAhead(other, 'admitted ahead, did not fit the next call');
    this.ahead.delete(slot);
    const m = this.misses.get(slot) ?? { n: 0, at: 0, until: 0 };
    m.n++;
    m.at = now;
    if (m.n >= AHEAD_MAX_MISSES) m.until = now + AHEAD_BACKOFF_MS;
    this.misses.set(slot, m);
    return undefined;
  }

  /** a place in this tick's script (with the ask for the key's next call, when it may have one) */
  private placeNow(p: Pending, aheadable: boolean): void {
    this.queue(p);
    if (aheadable) this.askAhead(p.req, p.admit!);
  }

  /** the ask for this slot's admission ahead is answered (ahead set) or failed: the call waiting on it goes on */
  private answerJoiner(slot: string): void {
    const waiting = this.joiners.get(slot);
    const w = waiting?.shift();
    if (!w) return;
    if (waiting!.length === 0) this.joiners.delete(slot);
    const taken = this.closing ? undefined : this.takeAhead(slot, w.req, w.admit!);
    if (taken) w.resolve(taken);
    else this.placeNow(w, !this.closing);
  }

  private queue(p: Pending): void {
    this.tick.push(p);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * asks, in this tick's script, for admissions of the key's next calls once fewer than the slot's depth are in
   * hand or on its way: as many as the slot keeps (keeps: one for a client that calls in sequence, two when its
   * calls come quick)
   */
  private askAhead(req: PlaceHoldRequest, admit: Admission): void {
    const slot = aheadSlot(req);
    const m = this.misses.get(slot);
    if (m && m.until > 0) {
      if (m.until > Date.now()) return;
      this.misses.delete(slot); // the backoff is over: counted afresh
    }
    const amount = Math.min(this.leases.maxDraw, Math.ceil(req.amount_micros * AHEAD_HEADROOM));
    if (amount < req.amount_micros) return;
    // asked for when what is in hand or on its way falls below the slot's depth: then as many as the slot keeps
    const have = (this.asking.get(slot) ?? 0) + (this.ahead.get(slot)?.length ?? 0);
    const want = have < (this.depth.get(slot) ?? 1) ? this.keeps(slot) - have : 0;
    const noop = () => undefined;
    for (let i = 0; i < want; i++) {
      countUp(this.asking, slot);
      this.queue({
        req: { ...req, hold_id: newId('hold'), request_id: `ahead-of-${req.request_id}`, amount_micros: amount },
        admit: { ...admit, onResult: noop },
        draw: true,
        resolve: noop,
        reject: () => {
          countDown(this.asking, slot);
          this.answerJoiner(slot);
        },
        ahead: { slot, sentAt: Date.now() },
      });
    }
  }

  /** the most admissions ahead a slot keeps in hand or asked for: its depth, and ADMIT_AHEAD_BATCH - 1 more when its calls come quick */
  private keeps(slot: string): number {
    return (this.depth.get(slot) ?? 1) + (this.quick.has(slot) ? this.config.ADMIT_AHEAD_BATCH - 1 : 0);
  }

  /** an admission ahead came back: kept for the key's next call if it was admitted and drawn */
  private gotAhead(b: Pending, v: Verdict): void {
    const slot = b.ahead!.slot;
    countDown(this.asking, slot);
    if (v[0] === 1 && v[4]) {
      const a: Ahead = {
        id: b.req.hold_id!,
        amount: b.req.amount_micros,
        leaseId: v[4],
        accountId: b.req.account_id,
        keyId: b.req.key_id!,
        model: b.req.model,
        verdict: [v[0], v[1], v[2], v[3]],
        until: b.ahead!.sentAt + this.aheadMs,
      };
      const stock = this.ahead.get(slot);
      if (this.closing || (stock?.length ?? 0) >= this.keeps(slot) || a.until <= Date.now()) this.releaseAhead(a, 'admitted ahead, unused');
      else if (stock) stock.push(a);
      else this.ahead.set(slot, [a]);
    }
    this.answerJoiner(slot);
  }

  private sweepAhead(now: number): void {
    // a call that never told its end (it should not happen: every held call settles or releases)
    for (const [id, r] of this.refills) {
      if (r.at >= now - this.config.HOLD_TTL_MS) continue;
      this.refills.delete(id);
      countDown(this.running, aheadSlot(r.req));
    }
    for (const [slot, stock] of this.ahead) {
      const expired = stock.filter((a) => a.until <= now);
      if (expired.length === 0) continue;
      for (const a of expired) this.releaseAhead(a, 'admitted ahead, unused');
      this.quick.delete(slot); // its calls no longer come quick enough to use a batch
      const left = stock.filter((a) => a.until > now);
      if (left.length > 0) this.ahead.set(slot, left);
      else this.ahead.delete(slot);
      // more than the key's calls used: one less kept from now on (none left: the key paused, and starts again at one)
      const d = this.depth.get(slot) ?? 1;
      if (d > 2 && left.length > 0) this.depth.set(slot, d - 1);
      else this.depth.delete(slot);
    }
    // a slot with nothing in hand, asked for or running keeps no depth (a backoff, or a key gone quiet)
    const idle = (slot: string) => !this.ahead.has(slot) && !this.asking.has(slot) && !this.running.has(slot);
    for (const slot of this.depth.keys()) if (idle(slot)) this.depth.delete(slot);
    for (const slot of this.quick) if (idle(slot)) this.quick.delete(slot);
    for (const [slot, m] of this.misses) if (m.until <= now && m.at < now - AHEAD_BACKOFF_MS) this.misses.delete(slot);
  }

  /** a draw no call will use: it becomes a hold row of its own (the split) and is released, through the outbox */
  private releaseAhead(a: Ahead, reason: string): void {
    this.outbox.push({
      op: 'release',
      hold_id: a.id,
      reason,
      split: { lease_id: a.leaseId, hold_id: a.id, draw_micros: a.amount, account_id: a.accountId, key_id: a.keyId, request_id: a.id, model: a.model },
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.tick;
    this.tick = [];
    if (batch.some((b) => b.admit)) {
      this.admitAndPlace(batch);
      return;
    }
    this.billing.call('holds.placeMany', { items: batch.map((b) => b.req) }).then(
      (results) => batch.forEach((b, i) => this.answer(b, results[i])),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }

  private answer(b: Pending, r: { ok?: HoldPlaced; err?: unknown } | undefined): void {
    if (r?.ok) {
      if (b.req.kind !== 'task') callHoldsVia.billing.inc();
      b.resolve(r.ok);
    }
    else b.reject(DomainError.from(r?.err ?? { code: 'internal', message: 'no answer for this hold' }));
  }

  private admitAndPlace(batch: Pending[]): void {
    // a batch of admissions ahead alone puts nothing on billing's queue (an 'a' item is never placed there): no
    // request to prepare, no reply to wait for. At a steady rate nearly every script is one (a call's end asks
    // for its key's next admission), and each prepared a request only to throw it away: an id, the envelope's
    // JSON, a deadline timer, a promise and an entry in the client's table of replies awaited.
    if (batch.every((b) => b.ahead)) return this.sendAdmitAndPlace(batch, null);
    const call = this.billing.prepareCall('holds.placeMany');
    if (!call.ready) return this.sendAdmitAndPlace(batch, call);
    // the reply connection is reconnecting (a Redis restart): billing's answer to a place pushed now would be
    // published into the void, so the script waits for it; a wait past the request's deadline fails the batch
    let waited = false;
    call.reply.catch((err: unknown) => {
      if (waited) return;
      waited = true;
      batch.forEach((b) => b.reject(err));
    });
    void call.ready.then(() => {
      if (waited) return;
      waited = true;
      this.sendAdmitAndPlace(batch, call);
    });
  }

  /** call: the place request the script may push to billing's queue; null when no item of the batch may be placed there */
  private sendAdmitAndPlace(batch: Pending[], call: PlaceCall | null): void {
    const ride = this.outbox.takeRide();
    const keys: string[] = [call?.queue ?? '', this.leases.outboxStream];
    const args: Array<string | number> = [call ? `${call.head}{"items":[` : '', call ? `]}${call.tail}` : '', this.config.RATE_WINDOW_MS, this.config.LEASE_MIN_DRAWS, Math.floor(this.leases.drawMs / 4), ride?.tokens.size ?? 0, ride?.entry ?? '', this.aheadMs];
    for (const b of batch) {
      keys.push(b.admit?.reqKey ?? '', b.admit?.tokKey ?? '', b.draw ? this.leases.key(b.req.account_id) : '', b.draw ? this.leases.drawMark(b.req.hold_id!) : '');
      args.push(b.admit?.rpm ?? -1, b.admit?.tpm ?? -1, b.admit?.count ? '1' : '0', b.ahead ? '' : JSON.stringify(b.req), b.draw ? b.req.amount_micros : -1, b.req.key_id ? LEASE.noDrawField(b.req.key_id) : 'nb:', b.ahead ? 'a' : 'c');
    }
    if (ride) for (const [key, n] of ride.tokens) keys.push(key), args.push(n);
    this.redis.gwAdmitPlace(keys.length, ...keys, ...args).then(
      (verdicts) => {
        if (ride) this.outbox.rideDone(ride);
        const placed: Pending[] = [];
        batch.forEach((b, i) => {
          const v = verdicts[i];
          if (b.ahead) return this.gotAhead(b, v);
          try {
            b.admit?.onResult([v[0], v[1], v[2], v[3]]);
            if (v[0] !== 1) {
              b.reject(new DomainError('rate_limited', 'rate limited'));
              return;
            }
            if (v[5] === 1) this.leases.want(b.req.account_id, b.req.amount_micros);
            if (v[4]) {
              callHoldsVia.lease.inc();
              b.resolve(this.drawn(b.req, v[4]));
            } else placed.push(b);
          } catch (err) {
            b.reject(err); // the limiter refused it (429): it was not placed
          }
        });
        if (placed.length === 0) return call?.cancel();
        // (placed is empty without a call: only 'c' items are placed, and a batch with one has a call)
        call!.reply.then(
          (results) => placed.forEach((b, i) => this.answer(b, results[i])),
          (err: unknown) => placed.forEach((b) => b.reject(err)),
        );
      },
      (err: Error) => {
        if (ride) this.outbox.rideDone(ride, err);
        call?.cancel();
        const e = new DomainError('service_unavailable', `cannot reach Redis to place holds: ${err.message}`);
        batch.forEach((b) => b.reject(e));
      },
    );
  }

  /** A hold drawn from a lease: its row is made by the split its settle, release or extension carries. */
  private drawn(req: PlaceHoldRequest, leaseId: string): HoldPlaced {
    const holdId = req.hold_id!;
    return {
      hold_id: holdId,
      amount_micros: req.amount_micros,
      expires_at: new Date(Date.now() + this.config.HOLD_TTL_MS).toISOString(),
      split: { lease_id: leaseId, hold_id: holdId, draw_micros: req.amount_micros, account_id: req.account_id, key_id: req.key_id, request_id: req.request_id, model: req.model },
    };
  }
}
