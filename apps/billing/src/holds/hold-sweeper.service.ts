import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { BillingConfig } from '@gateway/config';
import { CONFIG } from '../shared/tokens';
import { HoldRepository } from './hold.repository';

/**
 * Releases call holds whose deadline (on the database's clock) has passed: the safety net for a caller
 * that died between hold and settle. Safe on any number of billing instances at once (SKIP LOCKED plus
 * the exactly-once state guard in gw_release_hold).
 */
@Injectable()
export class HoldSweeperService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(HoldSweeperService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly holds: HoldRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.SWEEP_INTERVAL_MS === 0) return;
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .then(() => undefined)
        .catch((err: Error) => this.logger.error(`sweep failed: ${err.message}`))
        .finally(() => (this.running = undefined));
    }, this.config.SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass; returns how many holds it expired. */
  async sweep(batch = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.holds.expireDue(batch);
      total += n;
      if (n < batch) break;
    }
    if (total > 0) this.logger.log(`expired ${total} hold(s) past their deadline`);
    return total;
  }
}
