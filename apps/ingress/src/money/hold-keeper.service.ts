import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { IngressConfig } from '@gateway/config';
import type { LeaseSplit } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import { BILLING, CONFIG } from '../shared/tokens';

/** the longest a call's hold is kept alive by its ingress: a day */
const MAX_KEEP_MS = 24 * 3600_000;

/**
 * A hold lives as long as its call: the holds of the calls this process is still serving are extended
 * every HOLD_EXTEND_INTERVAL_MS (a third of HOLD_TTL_MS by default), in one message, so a stream
 * longer than the TTL keeps its hold. If this process dies, extensions stop and the sweeper expires
 * the holds after the TTL, as before. (A settle that still arrives after an expiry charges anyway.)
 */
@Injectable()
export class HoldKeeper implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(HoldKeeper.name);
  /** hold id -> when its call started */
  private readonly live = new Map<string, number>();
  /** holds drawn from a lease that have no row yet: their first extension makes one (the split) */
  private readonly unsplit = new Map<string, LeaseSplit>();
  private timer?: NodeJS.Timeout;
  private readonly intervalMs: number;

  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {
    this.intervalMs = config.HOLD_EXTEND_INTERVAL_MS || Math.max(50, Math.floor(config.HOLD_TTL_MS / 3));
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.extend(), this.intervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Keeps the hold alive while its call runs. `until`: the call's response; once it has closed, whatever
   * happened, the hold is no longer extended (a settle that comes later still charges). A hold is never
   * kept longer than MAX_KEEP_MS, so a call that lost track of its hold cannot keep money held forever.
   */
  track(holdId: string, until?: { once(event: 'close', f: () => void): unknown }, split?: LeaseSplit): void {
    this.live.set(holdId, Date.now());
    if (split) this.unsplit.set(holdId, split);
    until?.once('close', () => this.untrack(holdId));
  }

  untrack(holdId: string): void {
    this.live.delete(holdId);
    this.unsplit.delete(holdId);
  }

  get size(): number {
    return this.live.size;
  }

  private async extend(): Promise<void> {
    if (this.live.size === 0) return;
    const oldest = Date.now() - MAX_KEEP_MS;
    for (const [id, since] of this.live) if (since < oldest) this.untrack(id);
    const ids = [...this.live.keys()];
    try {
      for (let i = 0; i < ids.length; i += 5000) {
        const chunk = ids.slice(i, i + 5000);
        const splits = chunk.flatMap((id) => this.unsplit.get(id) ?? []);
        await this.billing.call('holds.extend', { ids: chunk, ttl_ms: this.config.HOLD_TTL_MS, ...(splits.length ? { splits } : {}) });
        for (const sp of splits) this.unsplit.delete(sp.hold_id);
      }
    } catch (err) {
      // the next round tries again; a hold that expires meanwhile is still charged by its late settle
      this.logger.warn(`extending ${ids.length} running call hold(s) failed: ${(err as Error).message}`);
    }
  }
}
