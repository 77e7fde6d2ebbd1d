import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type KeyPrincipal } from '@gateway/contracts';
import { ADMIT_AHEAD_MAX_MS, type IngressConfig } from '@gateway/config';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

// The admission rule, atomic across every ingress replica: requests count in a sliding window (a sorted
// set of the admitted requests' times on Redis's clock, so replicas share one clock), so a key at rpm N never
// gets more than N in any window; tokens count in fixed windows (a finished call adds its tokens after the
// fact, so a token limit is a bound on spend rate, not a per-request gate). A refused request is not
// counted. ttl: ms until the oldest counted request leaves the window (a slot frees), or, when the tokens
// refused, until the token window ends. A Lua function, shared by the plain check below and by
// HoldPlacer's admit-and-place script.
// ahead (ms, 0 for a call admitted now): a slot taken for a call that may start up to that long from now
// (HoldPlacer's admission one call ahead) is counted as if it were made at the end of that time, so the
// call it admits, whenever it starts within it, leaves the window no earlier than a call admitted when it
// started would: the sliding window still never holds more than rpm calls. The set is kept ADMIT_AHEAD_MAX_MS
// longer than the window for the same reason.
// One script may admit many calls (HoldPlacer's tick); each request set is trimmed, counted and looked at
// once a script, on one reading of Redis's clock, and kept in step as the script adds to it: per call only the
// ZADD is left (admitDone, at the script's end, sets the expiry of the sets it added to). The same answers as
// trimming and counting for every call: nothing else runs between a script's commands.
export const ADMIT_FN = `
local gwClock = nil
local function gwNow()
  if not gwClock then
    local t = redis.call('TIME')
    gwClock = {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), t[1] .. t[2]}
  end
  return gwClock[1]
end
local admitSets = {}
local admitToks = {}
local function admit(rk, tk, rpm, tpm, window, count, ahead)
  local now = gwNow()
  local s = admitSets[rk]
  if not s then
    redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - window)
    local oldest = redis.call('ZRANGE', rk, 0, 0, 'WITHSCORES')
    -- {requests in the window, the oldest one's score (false: none), added to by this script}
    s = {redis.call('ZCARD', rk), oldest[2] and tonumber(oldest[2]) or false, false}
    admitSets[rk] = s
  end
  local toks = admitToks[tk]
  if not toks then
    toks = tonumber(redis.call('GET', tk) or '0')
    admitToks[tk] = toks
  end
  local reqs = s[1]
  local ok = 1
  if reqs >= rpm or toks >= tpm then ok = 0 end
  if ok == 1 and count then
    local score = now + (ahead or 0)
    redis.call('ZADD', rk, score, gwClock[2] .. ':' .. reqs .. (ahead and ahead > 0 and ':a' or ''))
    if not s[2] or score < s[2] then s[2] = score end
    s[3] = true
    reqs = reqs + 1
    s[1] = reqs
  end
  local ttl = window
  if s[2] then ttl = s[2] + window - now end
  if ok == 0 and reqs < rpm then
    ttl = redis.call('PTTL', tk)
    if ttl < 0 then ttl = window end
  end
  return {ok, reqs, toks, ttl}
end
local function admitDone(window)
  for rk, s in pairs(admitSets) do
    if s[3] then redis.call('PEXPIRE', rk, window + ${ADMIT_AHEAD_MAX_MS}) end
  end
end
`;

const ADMIT = `${ADMIT_FN}
local r = admit(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) == 1)
admitDone(tonumber(ARGV[3]))
return r`;

type Redis2 = Redis & {
  gwAdmit(reqKey: string, tokKey: string, rpm: number, tpm: number, windowMs: number, count: number): Promise<[number, number, number, number]>;
};

/** "6m0s"-style durations, as OpenAI writes x-ratelimit-reset-* */
function duration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

/**
 * Requests and tokens per minute per key (the key's own rpm / tpm, else the configured defaults), per
 * RATE_WINDOW_MS (60 s) shared through Redis: requests in a sliding window, tokens in fixed windows. Every response of an authenticated public route carries
 * OpenAI's x-ratelimit-* headers; a refusal is a 429 with Retry-After.
 */
@Injectable()
export class RateLimitService {
  private readonly redis: Redis2;

  constructor(
    @Inject(REDIS_CMD) redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {
    redis.defineCommand('gwAdmit', { numberOfKeys: 2, lua: ADMIT });
    this.redis = redis as Redis2;
  }

  /** The key's requests (a sorted set, sliding) and this window's tokens (a counter, fixed window). */
  keys(p: KeyPrincipal): [string, string] {
    return [`${this.config.REDIS_PREFIX}rl:${p.key_id}:r`, this.tokenKey(p.key_id)];
  }

  limits(p: KeyPrincipal): { rpm: number; tpm: number } {
    return { rpm: p.rpm ?? this.config.DEFAULT_RPM, tpm: p.tpm ?? this.config.DEFAULT_TPM };
  }

  /** count: a billed call (counted); otherwise only checked and reported (reads, dry runs). */
  async admit(p: KeyPrincipal, reply: FastifyReply, count: boolean): Promise<void> {
    const { rpm, tpm } = this.limits(p);
    const [reqKey, tokKey] = this.keys(p);
    this.report(p, reply, await this.redis.gwAdmit(reqKey, tokKey, rpm, tpm, this.config.RATE_WINDOW_MS, count ? 1 : 0));
  }

  /**
   * What an admission said ([ok, requests, tokens, ttl ms], from ADMIT or from the admit-and-place script
   * of HoldPlacer): the x-ratelimit-* headers, and a 429 when refused.
   */
  report(p: KeyPrincipal, reply: FastifyReply, [ok, reqs, toks, ttl]: [number, number, number, number]): void {
    const { rpm, tpm } = this.limits(p);
    const reset = duration(ttl);
    void reply.headers({
      'x-ratelimit-limit-requests': String(rpm),
      'x-ratelimit-remaining-requests': String(Math.max(0, rpm - reqs)),
      'x-ratelimit-reset-requests': reset,
      'x-ratelimit-limit-tokens': String(tpm),
      'x-ratelimit-remaining-tokens': String(Math.max(0, tpm - toks)),
      'x-ratelimit-reset-tokens': reset,
    });
    if (ok !== 1) {
      const what = reqs >= rpm ? `${rpm} requests` : `${tpm} tokens`;
      throw new DomainError('rate_limited', `Rate limit reached for this key: ${what} per minute. Try again in ${reset}.`, undefined, Math.max(1, Math.ceil(ttl / 1000)));
    }
  }

  /** The counter of this window's tokens for a key (what SettleOutbox adds a finished call's tokens to). */
  tokenKey(keyId: string): string {
    return `${this.config.REDIS_PREFIX}rl:${keyId}:${Math.floor(Date.now() / this.config.RATE_WINDOW_MS)}:t`;
  }
}
