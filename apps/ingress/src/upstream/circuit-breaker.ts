import { Inject, Injectable, Logger } from '@nestjs/common';
import type { RouteTarget } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type Redis from 'ioredis';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

/**
 * closed: tried in its turn. half_open: its cool-down is over and this call is its one probe. open: skipped
 * while another channel is left. forced: every channel of the tier is open, and this one (the one opened
 * longest ago) is tried anyway rather than failing blind.
 */
export type BreakerState = 'closed' | 'half_open' | 'open' | 'forced';

export interface PlannedTarget {
  target: RouteTarget;
  state: BreakerState;
  /** consecutive failures counted so far (0: nothing to clear on success) */
  failures: number;
}

// One hash per channel, {prefix}cb:{channel}: f (consecutive failures), until (open until, ms on Redis's
// clock), opened (when it opened), probe (a probe's lease: one call at a time tests a half-open channel).
// Reply per key: state (0 closed, 1 half-open and this caller holds the probe, 2 open), opened, failures.
const CHECK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  local h = redis.call('HMGET', KEYS[i], 'f', 'until', 'opened', 'probe')
  local f = tonumber(h[1] or '0')
  local state = 0
  if h[2] then
    if now < tonumber(h[2]) then state = 2
    elseif h[4] and now < tonumber(h[4]) then state = 2
    else
      redis.call('HSET', KEYS[i], 'probe', now + tonumber(ARGV[1]))
      state = 1
    end
  end
  out[#out + 1] = state
  out[#out + 1] = tonumber(h[3] or '0')
  out[#out + 1] = f
end
return out
`;

// An attempt's result. ARGV: ok (1/0), tried as a probe or forced (1/0), failures to open, cool-down ms.
// Success closes (forgets everything); a failed probe re-opens; N failures in a row open. Returns 1 if open.
const RESULT = `
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cooldown = tonumber(ARGV[4])
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if ARGV[2] ~= '1' and openUntil > now then return 1 end
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
if ARGV[2] == '1' or f >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'until', now + cooldown, 'opened', now, 'f', 0)
  redis.call('HDEL', KEYS[1], 'probe')
  redis.call('PEXPIRE', KEYS[1], cooldown + 600000)
  return 1
end
redis.call('PEXPIRE', KEYS[1], 600000)
return 0
`;

type BreakerRedis = Redis & {
  gwBreakerCheck(n: number, ...args: Array<string | number>): Promise<number[]>;
  gwBreakerResult(key: string, ok: number, probe: number, failures: number, cooldownMs: number): Promise<number>;
};

/**
 * A circuit breaker per channel, shared by every ingress replica through Redis (one replica's failures
 * take the channel out for all, and one probe at a time tests it). A channel read healthy (closed, no failures)
 * is trusted here for BREAKER_LOCAL_MS without asking again, so a healthy channel costs one script call per
 * BREAKER_LOCAL_MS rather than one per call; another replica's failures reach this one within that time, this
 * replica's own at once. A write happens only after a failure or to close a channel that had failed. Redis
 * being away never fails a call: every channel then counts as closed.
 */
@Injectable()
export class CircuitBreaker {
  private readonly logger = new Logger(CircuitBreaker.name);
  private readonly redis: BreakerRedis;

  constructor(
    @Inject(REDIS_CMD) redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {
    redis.defineCommand('gwBreakerCheck', { lua: CHECK });
    redis.defineCommand('gwBreakerResult', { numberOfKeys: 1, lua: RESULT });
    this.redis = redis as BreakerRedis;
  }

  private get enabled(): boolean {
    return this.config.BREAKER_FAILURES > 0;
  }

  private key(channelId: string): string {
    return `${this.config.REDIS_PREFIX}cb:${channelId}`;
  }

  /**
   * The targets to try, in the given order, open ones left out; when every one is open, the one opened
   * longest ago alone (forced), so a call is never refused without trying something.
   */
  async plan(ordered: RouteTarget[]): Promise<PlannedTarget[]> {
    if (!this.enabled || ordered.length === 0) return ordered.map((target) => ({ target, state: 'closed', failures: 0 }));
    // every channel read healthy here moments ago: no round trip (the common case)
    const now = Date.now();
    if (ordered.every((t) => (this.healthyUntil.get(t.channel_id) ?? 0) > now)) return ordered.map((target) => ({ target, state: 'closed', failures: 0 }));
    let reply: number[];
    try {
      // the probe's lease covers one attempt and its retry
      reply = await this.redis.gwBreakerCheck(ordered.length, ...ordered.map((t) => this.key(t.channel_id)), 2 * this.config.UPSTREAM_TIMEOUT_MS + 1000);
    } catch (err) {
      this.logger.warn(`circuit breaker unavailable, trying every channel: ${(err as Error).message}`);
      return ordered.map((target) => ({ target, state: 'closed', failures: 0 }));
    }
    this.remember(ordered, reply, now);
    return planFrom(ordered, reply);
  }

  /**
   * Channel id → until when this replica takes the channel as healthy without asking: set from a reading of
   * closed with no failures, dropped when this replica records anything for the channel. Only a clean channel
   * is trusted, so a half-open probe, an open channel or a failure count always comes from Redis.
   */
  private readonly healthyUntil = new Map<string, number>();

  private remember(ordered: RouteTarget[], reply: number[], now: number): void {
    const ttl = this.config.BREAKER_LOCAL_MS;
    if (ttl <= 0) return;
    ordered.forEach((t, i) => {
      if (reply[3 * i] === 0 && reply[3 * i + 2] === 0) this.healthyUntil.set(t.channel_id, now + ttl);
      else this.healthyUntil.delete(t.channel_id);
    });
  }

  /**
   * What the breaker knows of each channel now, for operators: open (cooling down until open_until),
   * half_open (cool-down over, the next call probes it) or closed, and its consecutive failures.
   */
  async inspect(channelIds: string[]): Promise<Array<{ state: 'closed' | 'open' | 'half_open'; consecutive_failures: number; open_until: string | null }>> {
    if (channelIds.length === 0) return [];
    const pipe = this.redis.multi();
    pipe.time();
    for (const id of channelIds) pipe.hmget(this.key(id), 'f', 'until');
    const res = (await pipe.exec()) ?? [];
    const [sec, usec] = (res[0]?.[1] as [string, string] | undefined) ?? [String(Math.floor(Date.now() / 1000)), '0'];
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    return channelIds.map((_, i) => {
      const [f, until] = (res[i + 1]?.[1] as [string | null, string | null] | undefined) ?? [null, null];
      const openUntil = until ? Number(until) : null;
      return {
        state: openUntil === null ? 'closed' : now < openUntil ? 'open' : 'half_open',
        consecutive_failures: Number(f ?? 0),
        open_until: openUntil === null ? null : new Date(openUntil).toISOString(),
      };
    });
  }

  /** Records an attempt's result on its channel; resolves true when the channel is (now) open. */
  async record(p: PlannedTarget, ok: boolean, retryAfterS?: number): Promise<boolean> {
    if (!this.enabled || (ok && p.state === 'closed' && p.failures === 0)) return false;
    this.healthyUntil.delete(p.target.channel_id);
    const cooldown = Math.max(this.config.BREAKER_COOLDOWN_MS, (retryAfterS ?? 0) * 1000);
    try {
      const open = await this.redis.gwBreakerResult(this.key(p.target.channel_id), ok ? 1 : 0, p.state === 'closed' ? 0 : 1, this.config.BREAKER_FAILURES, cooldown);
      if (open === 1 && !ok) this.logger.warn(`channel ${p.target.channel_id} circuit open for ${cooldown} ms`);
      return open === 1;
    } catch (err) {
      this.logger.warn(`circuit breaker unavailable: ${(err as Error).message}`);
      return false;
    }
  }
}

/** The plan from CHECK's reply ([state, opened, failures] per target). */
export function planFrom(ordered: RouteTarget[], reply: number[]): PlannedTarget[] {
  const all = ordered.map((target, i) => ({ target, code: reply[3 * i], opened: reply[3 * i + 1], failures: reply[3 * i + 2] }));
  const usable = all.filter((x) => x.code !== 2);
  if (usable.length > 0) return usable.map((x) => ({ target: x.target, state: x.code === 1 ? 'half_open' : 'closed', failures: x.failures }));
  const oldest = all.reduce((a, b) => (b.opened < a.opened ? b : a));
  return [{ target: oldest.target, state: 'forced', failures: oldest.failures }];
}
