import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type KeyPrincipal } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

export const WINDOW_MS = 60_000;

// One round trip, atomic across every ingress replica: count the request in this minute's window unless
// the key is over its requests or tokens per minute; report what is left. A refused request is not counted.
const ADMIT = `
local count = tonumber(ARGV[4]) == 1
local reqs = tonumber(redis.call('GET', KEYS[1]) or '0')
local toks = tonumber(redis.call('GET', KEYS[2]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[3]) end
local ok = 1
if reqs >= tonumber(ARGV[1]) or toks >= tonumber(ARGV[2]) then ok = 0 end
if ok == 1 and count then
  reqs = redis.call('INCR', KEYS[1])
  if reqs == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) ; ttl = tonumber(ARGV[3]) end
end
return {ok, reqs, toks, ttl}
`;

type Redis2 = Redis & {
  gwAdmit(reqKey: string, tokKey: string, rpm: number, tpm: number, windowMs: number, count: number): Promise<[number, number, number, number]>;
};

/** "6m0s"-style durations, as OpenAI writes x-ratelimit-reset-* */
function duration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

/**
 * Requests and tokens per minute per key (the key's own rpm / tpm, else the configured defaults), in
 * fixed one-minute windows shared through Redis. Every response of an authenticated public route carries
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

  private keys(p: KeyPrincipal): [string, string] {
    const window = Math.floor(Date.now() / WINDOW_MS);
    const base = `${this.config.REDIS_PREFIX}rl:${p.key_id}:${window}`;
    return [`${base}:r`, `${base}:t`];
  }

  private limits(p: KeyPrincipal): { rpm: number; tpm: number } {
    return { rpm: p.rpm ?? this.config.DEFAULT_RPM, tpm: p.tpm ?? this.config.DEFAULT_TPM };
  }

  /** count: a billed call (counted); otherwise only checked and reported (reads, dry runs). */
  async admit(p: KeyPrincipal, reply: FastifyReply, count: boolean): Promise<void> {
    const { rpm, tpm } = this.limits(p);
    const [reqKey, tokKey] = this.keys(p);
    const [ok, reqs, toks, ttl] = await this.redis.gwAdmit(reqKey, tokKey, rpm, tpm, WINDOW_MS, count ? 1 : 0);
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

  /** The counter of this minute's tokens for a key (what SettleOutbox adds a finished call's tokens to). */
  tokenKey(keyId: string): string {
    return `${this.config.REDIS_PREFIX}rl:${keyId}:${Math.floor(Date.now() / WINDOW_MS)}:t`;
  }
}
