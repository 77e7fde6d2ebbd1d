import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { OUTBOX, type OutboxOp } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type Redis from 'ioredis';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

// One round trip for a tick's settles and the tokens those calls used: the entry is appended (unless
// empty: tokens only), and each rate-limit counter KEYS[2..] grows by its ARGV[3..] (expiring with its window).
const APPEND = `
if ARGV[1] ~= '' then redis.call('XADD', KEYS[1], '*', 'm', ARGV[1]) end
for i = 2, #KEYS do
  local t = redis.call('INCRBY', KEYS[i], ARGV[i + 1])
  if t == tonumber(ARGV[i + 1]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1
`;

type OutboxRedis = Redis & {
  gwOutbox(...args: Array<string | number>): Promise<number>;
};

/**
 * The call side of the settle outbox (see OutboxOp): settles and releases are appended to a Redis
 * stream that billing drains into the ledger, so no response waits for the ledger, and a billing or
 * Postgres outage of any length delays settles without losing one. The ops of one event-loop tick go
 * in one entry. An append that fails (Redis unreachable) is kept here and tried again, in order, until
 * Redis takes it; only this process dying while Redis is down loses those (the hold then expires, and
 * reconciliation lists it as expired unsettled).
 */
@Injectable()
export class SettleOutbox implements BeforeApplicationShutdown {
  private readonly logger = new Logger(SettleOutbox.name);
  private readonly stream: string;
  private tick: OutboxOp[] = [];
  /** tokens finished calls used, by rate-limit counter key: counted in the same round trip as the append */
  private tokens = new Map<string, number>();
  private scheduled = false;
  /** entries Redis has not taken yet, oldest first */
  private backlog: string[] = [];
  private retrying?: NodeJS.Timeout;
  private inFlight = 0;
  private idle: Array<() => void> = [];

  private readonly redis: OutboxRedis;

  private readonly windowMs: number;

  constructor(@Inject(REDIS_CMD) redis: Redis, @Inject(CONFIG) config: IngressConfig) {
    this.stream = OUTBOX.stream(config.REDIS_PREFIX);
    this.windowMs = config.RATE_WINDOW_MS;
    redis.defineCommand('gwOutbox', { lua: APPEND });
    this.redis = redis as OutboxRedis;
  }

  /** tokens: a rate-limit counter to add the call's tokens to (RateLimitService.tokenKey), in the same round trip */
  push(op: OutboxOp, tokens?: { key: string; n: number }): void {
    this.tick.push(op);
    if (tokens && tokens.n > 0) this.tokens.set(tokens.key, (this.tokens.get(tokens.key) ?? 0) + tokens.n);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushTick());
    }
  }

  /** entries waiting for Redis (a figure for health and tests) */
  get waiting(): number {
    return this.backlog.length + this.tick.length + this.inFlight;
  }

  private flushTick(): void {
    this.scheduled = false;
    if (this.tick.length === 0) return;
    const entry = JSON.stringify(this.tick);
    this.tick = [];
    const tokens = this.tokens;
    this.tokens = new Map();
    if (this.backlog.length > 0) {
      // keep order behind what is already waiting (the tokens are counted now; they only rate-limit)
      this.backlog.push(entry);
      if (tokens.size) void this.redis.gwOutbox(1 + tokens.size, this.stream, ...tokens.keys(), '', this.windowMs, ...tokens.values()).catch(() => undefined);
      return;
    }
    this.append(entry, tokens);
  }

  private append(entry: string, tokens?: Map<string, number>): void {
    this.inFlight++;
    const sent = tokens?.size ? this.redis.gwOutbox(1 + tokens.size, this.stream, ...tokens.keys(), entry, this.windowMs, ...tokens.values()) : this.redis.xadd(this.stream, '*', 'm', entry);
    sent.then(
      () => this.done(),
      (err: Error) => {
        this.backlog.unshift(entry);
        if (this.backlog.length === 1 || this.backlog.length % 1000 === 0) this.logger.error(`settle outbox: Redis refused an append (${err.message}); ${this.backlog.length} entr(ies) kept to retry`);
        this.scheduleRetry();
        this.done();
      },
    );
  }

  private done(): void {
    this.inFlight--;
    this.wakeIfIdle();
  }

  private wakeIfIdle(): void {
    if (this.waiting === 0) for (const f of this.idle.splice(0)) f();
  }

  private scheduleRetry(): void {
    if (this.retrying) return;
    this.retrying = setTimeout(() => void this.retryBacklog(), 250);
  }

  private async retryBacklog(): Promise<void> {
    this.retrying = undefined;
    while (this.backlog.length > 0) {
      const entry = this.backlog[0];
      this.inFlight++;
      try {
        await this.redis.xadd(this.stream, '*', 'm', entry);
        this.backlog.shift();
      } catch {
        this.inFlight--;
        this.scheduleRetry();
        return;
      }
      this.inFlight--;
    }
    this.logger.log('settle outbox: Redis took every waiting entry');
    this.wakeIfIdle();
  }

  /** Resolves once every op pushed so far is in Redis, or after timeoutMs (false then). */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.scheduled) this.flushTick();
    if (this.waiting === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!(await this.drain(10_000))) this.logger.error(`settle outbox: ${this.waiting} entr(ies) could not reach Redis before shutdown`);
    if (this.retrying) clearTimeout(this.retrying);
  }
}
