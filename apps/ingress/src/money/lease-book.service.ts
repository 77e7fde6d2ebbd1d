import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { LEASE, LEASE_CLOSE_FN, LEASE_RETIRE_LUA, OUTBOX, newId } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import type Redis from 'ioredis';
import { BILLING, CONFIG, REDIS_CMD } from '../shared/tokens';
import { SettleOutbox } from './settle-outbox.service';

// Installs a granted lease as the account's current one. KEYS: the lease hash, the outbox stream, the
// index of leases by the end of their window. ARGV: id, amount, until (epoch ms), the hash's TTL (ms),
// account id, then the account's keys with a budget. The lease it replaces is closed through the outbox
// in the same step, so its unused part goes back exactly once; a resent install of the same lease (its
// answer lost to a Redis restart) changes nothing.
export const LEASE_INSTALL_LUA = `${LEASE_CLOSE_FN}
local old = redis.call('HMGET', KEYS[1], 'id', 'left')
if old[1] == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'left', ARGV[2], 'until', ARGV[3], 'size', ARGV[2])
for i = 6, #ARGV do redis.call('HSET', KEYS[1], 'nb:' .. ARGV[i], '1') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[5])
if old[1] then closeLease(KEYS[2], old[1], old[2]) end
return 1
`;

type LeaseRedis = Redis & {
  gwLeaseInstall(...args: Array<string | number>): Promise<number>;
  gwLeaseRetire(...args: Array<string | number>): Promise<[string, string] | null>;
};

/**
 * Credit leases, ingress's side (HOLD_LEASE=on). Billing grants an account a lease: one hold row that
 * reserves part of the available balance. Its current lease lives in Redis, and the admission script
 * (HoldPlacer) draws each call's hold from it in the same round trip as the rate limit, so a call's hold
 * costs no billing message and no Postgres row on the call's path. The draw becomes a hold row of its own
 * when the call settles or is released (through the outbox) or runs long enough to be extended.
 *
 * Calls draw from a lease for LEASE_DRAW_MS; a fresh one is asked for before that ends or when it runs
 * low, and the old one is closed (its unused part goes back) as the new one is installed. A lease whose
 * window passed with no call to replace it is closed by the closer here. A key with a budget never draws
 * (its holds are placed one by one, where the budget is checked), nor does a call whose hold a lease of
 * LEASE_MAX_MICROS could not cover LEASE_MIN_DRAWS times.
 */
@Injectable()
export class LeaseBook implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LeaseBook.name);
  readonly enabled: boolean;
  readonly drawMs: number;
  /** how often HoldKeeper extends (and so splits) running calls' holds */
  private readonly extendEveryMs: number;
  private readonly redis: LeaseRedis;
  private readonly prefix: string;
  private readonly stream: string;
  private readonly index: string;
  /** accounts whose grant is in flight here */
  private readonly asking = new Set<string>();
  /** accounts refused a lease lately: not asked again before this time */
  private readonly refusedUntil = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    @Inject(REDIS_CMD) redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
    private readonly outbox: SettleOutbox,
  ) {
    this.enabled = config.HOLD_LEASE;
    this.drawMs = config.LEASE_DRAW_MS || Math.min(30_000, Math.floor(config.HOLD_TTL_MS / 4));
    this.extendEveryMs = config.HOLD_EXTEND_INTERVAL_MS || Math.max(50, Math.floor(config.HOLD_TTL_MS / 3));
    this.prefix = config.REDIS_PREFIX;
    this.stream = OUTBOX.stream(config.REDIS_PREFIX);
    this.index = LEASE.due(config.REDIS_PREFIX);
    redis.defineCommand('gwLeaseInstall', { lua: LEASE_INSTALL_LUA });
    redis.defineCommand('gwLeaseRetire', { lua: LEASE_RETIRE_LUA });
    this.redis = redis as LeaseRedis;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    const every = Math.max(50, Math.min(1000, Math.floor(this.drawMs / 4)));
    this.timer = setInterval(() => void this.closeDue(), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** the most a call's hold may be to be drawn from a lease */
  get maxDraw(): number {
    return Math.floor(this.config.LEASE_MAX_MICROS / Math.max(1, this.config.LEASE_MIN_DRAWS));
  }

  key(accountId: string): string {
    return LEASE.key(this.prefix, accountId);
  }

  /** the marker of a call's draw (see HoldPlacer): its hold drawn once, however often the script is sent */
  drawMark(holdId: string): string {
    return `${this.prefix}lease:drawn:${holdId}`;
  }

  get outboxStream(): string {
    return this.stream;
  }

  /** Asks billing for a fresh lease for the account, in the background; one ask at a time across replicas. */
  want(accountId: string, drawMicros: number): void {
    if (this.asking.has(accountId)) return;
    const refused = this.refusedUntil.get(accountId);
    if (refused !== undefined) {
      if (refused > Date.now()) return;
      this.refusedUntil.delete(accountId);
    }
    this.asking.add(accountId);
    void this.grant(accountId, drawMicros).finally(() => this.asking.delete(accountId));
  }

  private async grant(accountId: string, drawMicros: number): Promise<void> {
    const flag = `${this.key(accountId)}:asking`;
    const mine = await this.redis.set(flag, '1', 'PX', 5000, 'NX').catch(() => null);
    if (mine !== 'OK') return;
    const leaseId = newId('lease');
    try {
      const g = await this.billing.call('holds.lease', {
        lease_id: leaseId,
        account_id: accountId,
        max_micros: this.config.LEASE_MAX_MICROS,
        min_micros: Math.min(this.config.LEASE_MAX_MICROS, Math.max(1, drawMicros) * this.config.LEASE_MIN_DRAWS),
      });
      if (g.status !== 'ok') {
        this.refusedUntil.set(accountId, Date.now() + Math.min(5000, this.drawMs));
        return;
      }
      // no draw so late that its split (at the call's settle or first extension) could find the lease expired
      const until = Math.min(Date.now() + this.drawMs, g.expires_at ? Date.parse(g.expires_at) - 2 * this.extendEveryMs : 0);
      if (until <= Date.now()) {
        this.outbox.push({ op: 'close', lease_id: leaseId, unused_micros: g.amount_micros });
        this.refusedUntil.set(accountId, Date.now() + Math.min(5000, this.drawMs));
        this.logger.warn(`lease ${leaseId} lives too short to draw from (billing's LEASE_TTL_MS against ingress's HOLD_EXTEND_INTERVAL_MS); closed`);
        return;
      }
      // the hash outlives the window by a minute: the closer (or the next call) closes the lease long before
      await this.redis.gwLeaseInstall(3, this.key(accountId), this.stream, this.index, leaseId, g.amount_micros, until, until - Date.now() + 60_000, accountId, ...g.budgeted_keys);
    } catch (err) {
      // billing may have granted it with the answer lost, or Redis refused the install: closed whole, so
      // nothing stays reserved for a lease no call can draw from (a close of a lease never granted changes nothing)
      this.outbox.push({ op: 'close', lease_id: leaseId, unused_micros: this.config.LEASE_MAX_MICROS });
      this.refusedUntil.set(accountId, Date.now() + 1000);
      this.logger.warn(`lease for ${accountId} not installed: ${(err as Error).message}`);
    } finally {
      await this.redis.del(flag).catch(() => undefined);
    }
  }

  /**
   * Takes the account's lease out of use and closes it now, so its unused part is available again (a
   * place refused for balance while a lease held part of it is tried again after this). Returns the micros
   * given back (0 if there was no lease).
   */
  async retire(accountId: string): Promise<number> {
    const got = await this.redis.gwLeaseRetire(3, this.key(accountId), this.stream, this.index, 'now', Date.now(), accountId, '0');
    if (!got) return 0;
    const [leaseId, left] = got;
    try {
      const r = await this.billing.call('holds.closeLease', { lease_id: leaseId, unused_micros: Number(left) });
      return r.released_micros;
    } catch {
      this.outbox.push({ op: 'close', lease_id: leaseId, unused_micros: Number(left) });
      return 0;
    }
  }

  /** Closes leases whose window passed with no call to replace them (any replica may; each closes once). */
  async closeDue(): Promise<number> {
    const now = Date.now();
    let closed = 0;
    try {
      const due = await this.redis.zrangebyscore(this.index, '-inf', now, 'LIMIT', 0, 200);
      for (const accountId of due) {
        const got = await this.redis.gwLeaseRetire(3, this.key(accountId), this.stream, this.index, 'due', now, accountId, '1');
        if (got) closed++;
      }
    } catch (err) {
      this.logger.warn(`closing due leases failed: ${(err as Error).message}`);
    }
    return closed;
  }
}
