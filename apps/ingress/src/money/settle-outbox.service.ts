import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { OUTBOX, type OutboxOp } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type Redis from 'ioredis';
import { CONFIG, REDIS_CMD } from '../shared/tokens';
import { outboxAppendsVia } from '../ops/ingress-metrics';

/** Lua: adds finished calls' tokens to a rate-limit counter, which expires with the window it was made in. */
export const ADD_TOKENS_FN = `
local function addTokens(key, n, window)
  local t = redis.call('INCRBY', key, n)
  if t == tonumber(n) then redis.call('PEXPIRE', key, window) end
end
`;

// One round trip for a tick's settles and the tokens those calls used: the entry is appended (unless
// empty: tokens only), and each rate-limit counter KEYS[2..] grows by its ARGV[3..] (expiring with its window).
// The admission script (HoldPlacer) does the same for an entry that rides it.
const APPEND = `${ADD_TOKENS_FN}
if ARGV[1] ~= '' then redis.call('XADD', KEYS[1], '*', 'm', ARGV[1]) end
for i = 2, #KEYS do addTokens(KEYS[i], ARGV[i + 1], ARGV[2]) end
return 1
`;

type OutboxRedis = Redis & {
  gwOutbox(...args: Array<string | number>): Promise<number>;
};

/** An entry taken to ride on another script call (takeRide); handed back to rideDone when that call ends. */
export interface OutboxRide {
  /** the stream entry's JSON */
  entry: string;
  /** tokens finished calls used, by rate-limit counter key */
  tokens: Map<string, number>;
}

/**
 * The call side of the settle outbox (see OutboxOp): settles and releases are appended to a Redis
 * stream that billing drains into the ledger, so no response waits for the ledger, and a billing or
 * Postgres outage of any length delays settles without losing one. The ops of one event-loop tick go
 * in one entry. An entry waits up to OUTBOX_RIDE_MS for the next call's admission script (HoldPlacer),
 * which appends it in the same round trip (takeRide): under a steady flow of calls a settle costs no
 * Redis round trip of its own. With no call coming it is appended on its own when the wait ends (at the
 * end of its tick with OUTBOX_RIDE_MS=0). An append that fails (Redis unreachable) is kept here and tried
 * again, in order, until Redis takes it; only this process dying while Redis is down, or within the wait,
 * loses those (the hold then expires, and reconciliation lists it as expired unsettled).
 */
@Injectable()
export class SettleOutbox implements BeforeApplicationShutdown {
  private readonly logger = new Logger(SettleOutbox.name);
  private readonly stream: string;
  private tick: OutboxOp[] = [];
  /** tokens finished calls used, by rate-limit counter key: counted in the same round trip as the append */
  private tokens = new Map<string, number>();
  private scheduled = false;
  /** the ride wait's timer (OUTBOX_RIDE_MS), while one runs */
  private timer?: NodeJS.Timeout;
  private readonly rideMs: number;
  private readonly flushNow = (): void => {
    this.timer = undefined;
    this.flushTick();
  };
  /** entries Redis has not taken yet, oldest first */
  private backlog: string[] = [];
  /** a retry of the backlog that is due (its timer) or running: one at a time */
  private retrying?: NodeJS.Timeout | 'running';
  private inFlight = 0;
  private idle: Array<() => void> = [];

  private readonly redis: OutboxRedis;

  private readonly windowMs: number;

  constructor(@Inject(REDIS_CMD) redis: Redis, @Inject(CONFIG) config: IngressConfig) {
    this.stream = OUTBOX.stream(config.REDIS_PREFIX);
    this.windowMs = config.RATE_WINDOW_MS;
    this.rideMs = config.OUTBOX_RIDE_MS;
    redis.defineCommand('gwOutbox', { lua: APPEND });
    this.redis = redis as OutboxRedis;
  }

  /** tokens: a rate-limit counter to add the call's tokens to (RateLimitService.tokenKey), in the same round trip */
  push(op: OutboxOp, tokens?: { key: string; n: number }): void {
    this.tick.push(op);
    if (tokens && tokens.n > 0) this.tokens.set(tokens.key, (this.tokens.get(tokens.key) ?? 0) + tokens.n);
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.rideMs > 0) this.timer = setTimeout(this.flushNow, this.rideMs);
      else setImmediate(this.flushNow);
    }
  }

  /**
   * The waiting ops as one entry, for a script call about to go to Redis that appends it to the stream (and
   * adds the tokens) in its own round trip; undefined when none wait, or when older entries still wait for
   * Redis (they go first). The caller must hand it back to rideDone once that call has answered or failed.
   */
  takeRide(): OutboxRide | undefined {
    if (this.tick.length === 0 || this.backlog.length > 0) return undefined;
    this.unschedule();
    const ride = { entry: JSON.stringify(this.tick), tokens: this.tokens };
    this.tick = [];
    this.tokens = new Map();
    this.inFlight++;
    return ride;
  }

  /** The end of a ride: err when the script call failed, whose entry is then kept and tried again like a failed append. */
  rideDone(ride: OutboxRide, err?: Error): void {
    if (err) this.keep(ride.entry, err);
    else outboxAppendsVia.ride.inc();
    this.done();
  }

  private unschedule(): void {
    this.scheduled = false;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** entries waiting for Redis (a figure for health and tests) */
  get waiting(): number {
    return this.backlog.length + this.tick.length + this.inFlight;
  }

  private flushTick(): void {
    this.unschedule();
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
      () => {
        outboxAppendsVia.own.inc();
        this.done();
      },
      (err: Error) => {
        this.keep(entry, err);
        this.done();
      },
    );
  }

  /** an entry Redis did not take: first in line for the retry */
  private keep(entry: string, err: Error): void {
    this.backlog.unshift(entry);
    if (this.backlog.length === 1 || this.backlog.length % 1000 === 0) this.logger.error(`settle outbox: Redis refused an append (${err.message}); ${this.backlog.length} entr(ies) kept to retry`);
    this.scheduleRetry();
  }

  private done(): void {
    this.inFlight--;
    this.wakeIfIdle();
  }

  private wakeIfIdle(): void {
    if (this.waiting === 0) for (const f of this.idle.splice(0)) f();
  }

  private scheduleRetry(): void {
    if (this.retrying) return; // a running retry goes on until the backlog is empty, what was just kept included
    this.retrying = setTimeout(() => void this.retryBacklog(), 250);
  }

  private async retryBacklog(): Promise<void> {
    this.retrying = 'running';
    while (this.backlog.length > 0) {
      const entry = this.backlog[0];
      this.inFlight++;
      try {
        await this.redis.xadd(this.stream, '*', 'm', entry);
        // by identity, not shift(): an append or ride that failed meanwhile was put in front of it
        const at = this.backlog.indexOf(entry);
        if (at >= 0) this.backlog.splice(at, 1);
        outboxAppendsVia.own.inc();
      } catch {
        this.inFlight--;
        this.retrying = undefined;
        this.scheduleRetry();
        return;
      }
      this.inFlight--;
    }
    this.retrying = undefined;
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
    if (this.retrying && this.retrying !== 'running') clearTimeout(this.retrying);
  }
}
