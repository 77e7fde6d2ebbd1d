import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { OUTBOX, type OutboxOp } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type Redis from 'ioredis';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

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
  private scheduled = false;
  /** entries Redis has not taken yet, oldest first */
  private backlog: string[] = [];
  private retrying?: NodeJS.Timeout;
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(
    @Inject(REDIS_CMD) private readonly redis: Redis,
    @Inject(CONFIG) config: IngressConfig,
  ) {
    this.stream = OUTBOX.stream(config.REDIS_PREFIX);
  }

  push(op: OutboxOp): void {
    this.tick.push(op);
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
    if (this.backlog.length > 0) {
      // keep order behind what is already waiting
      this.backlog.push(entry);
      return;
    }
    this.append(entry);
  }

  private append(entry: string): void {
    this.inFlight++;
    this.redis.xadd(this.stream, '*', 'm', entry).then(
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
    if (this.waiting === 0) for (const f of this.idle.splice(0)) f();
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
