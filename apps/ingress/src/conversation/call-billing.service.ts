import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  tokenCostMicros,
  type HoldPlaced,
  type KeyPrincipal,
  type ModelView,
  type TokenUsage,
} from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { BILLING } from '../shared/tokens';

const SETTLE_ATTEMPTS = 4;

/** The money steps of one call, as ingress sees them: hold, then settle or release. */
@Injectable()
export class CallBillingService {
  private readonly logger = new Logger(CallBillingService.name);

  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    private readonly limits: RateLimitService,
  ) {}

  hold(principal: KeyPrincipal, requestId: string, model: ModelView, amountMicros: number, opts: { kind?: 'call' | 'task'; ttlMs?: number } = {}): Promise<HoldPlaced> {
    return this.billing.call('holds.place', {
      account_id: principal.account_id,
      key_id: principal.key_id,
      request_id: requestId,
      model: model.id,
      amount_micros: amountMicros,
      kind: opts.kind,
      ttl_ms: opts.ttlMs,
    });
  }

  /** Settles for the tokens used, priced from the model's per-token rates. */
  settleTokens(hold: HoldPlaced, principal: KeyPrincipal, requestId: string, model: ModelView, channelId: string | null, usage: TokenUsage): Promise<number> {
    return this.settle(hold, principal, requestId, model, channelId, tokenCostMicros(model.pricing, usage), usage);
  }

  /**
   * Settles for a computed cost. Retried, since a lost settle would leave the hold to expire unpaid;
   * a duplicate is harmless (billing settles a hold once).
   */
  async settle(
    hold: HoldPlaced,
    principal: KeyPrincipal,
    requestId: string,
    model: ModelView,
    channelId: string | null,
    cost: number,
    tokens?: TokenUsage,
  ): Promise<number> {
    const req = {
      hold_id: hold.hold_id,
      cost_micros: cost,
      usage: { request_id: requestId, account_id: principal.account_id, key_id: principal.key_id, model: model.id, channel_id: channelId, tokens },
    };
    if (tokens) void this.limits.record(principal.key_id, tokens.input_tokens + tokens.output_tokens).catch(() => undefined);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.billing.call('holds.settle', req);
        return cost;
      } catch (err) {
        if (attempt >= SETTLE_ATTEMPTS) {
          this.logger.error(`settle of ${hold.hold_id} (${cost} micros) failed ${attempt} times; the sweeper will release it: ${(err as Error).message}`);
          return cost;
        }
        await new Promise((r) => setTimeout(r, 100 * 4 ** (attempt - 1)));
      }
    }
  }

  /** A dry run placed the hold the live call would; it is released at once and only the estimate returned. */
  async dryRunAnswer(hold: HoldPlaced, model: string, estimate: number): Promise<{ dry_run: true; model: string; estimated_cost_micros: number }> {
    await this.release(hold, 'dry run');
    return { dry_run: true, model, estimated_cost_micros: estimate };
  }

  async release(hold: Pick<HoldPlaced, 'hold_id'>, reason: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.billing.call('holds.release', { hold_id: hold.hold_id, reason });
        return;
      } catch (err) {
        if (attempt >= SETTLE_ATTEMPTS) {
          this.logger.error(`release of ${hold.hold_id} failed; it expires on its deadline: ${(err as Error).message}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * 4 ** (attempt - 1)));
      }
    }
  }
}
