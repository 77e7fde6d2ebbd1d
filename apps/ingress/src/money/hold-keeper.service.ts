import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import { BILLING, CONFIG } from '../shared/tokens';

/**
 * A hold lives as long as its call: the holds of the calls this process is still serving are extended
 * every HOLD_EXTEND_INTERVAL_MS (a third of HOLD_TTL_MS by default), in one message, so a stream
 * longer than the TTL keeps its hold. If this process dies, extensions stop and the sweeper expires
 * the holds after the TTL, as before. (A settle that still arrives after an expiry charges anyway.)
 */
@Injectable()
export class HoldKeeper implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(HoldKeeper.name);
  private readonly live = new Set<string>();
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

  track(holdId: string): void {
    this.live.add(holdId);
  }

  untrack(holdId: string): void {
    this.live.delete(holdId);
  }

  get size(): number {
    return this.live.size;
  }

  private async extend(): Promise<void> {
    if (this.live.size === 0) return;
    const ids = [...this.live];
    try {
      for (let i = 0; i < ids.length; i += 5000) {
        await this.billing.call('holds.extend', { ids: ids.slice(i, i + 5000), ttl_ms: this.config.HOLD_TTL_MS });
      }
    } catch (err) {
      // the next round tries again; a hold that expires meanwhile is still charged by its late settle
      this.logger.warn(`extending ${ids.length} running call hold(s) failed: ${(err as Error).message}`);
    }
  }
}
