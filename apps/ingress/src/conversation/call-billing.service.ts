import { Injectable } from '@nestjs/common';
import {
  DomainError,
  newId,
  tokenCostMicros,
  type HoldPlaced,
  type KeyPrincipal,
  type ModelView,
  type TokenUsage,
} from '@gateway/contracts';
import { annotateCall } from '../shared/call-logging';
import { injectContext } from '@gateway/tracing';
import type { FastifyReply } from 'fastify';
import { HoldKeeper } from '../money/hold-keeper.service';
import { HoldPlacer, type Admission } from '../money/hold-placer.service';
import { LeaseBook } from '../money/lease-book.service';
import { SettleOutbox } from '../money/settle-outbox.service';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { recordCharge } from '../ops/ingress-metrics';

/** Refusals after which billing certainly placed no hold; after anything else the hold may exist. */
const NO_HOLD_CODES = new Set(['insufficient_balance', 'unauthorized', 'invalid_request', 'model_not_allowed', 'rate_limited']);

/**
 * The money steps of one call, as ingress sees them. The hold is placed synchronously (the call must
 * not start without it) under an id named here, so that placing is idempotent and a place whose answer
 * was lost can still be released. Settles and releases go to the settle outbox: the response does not
 * wait for the ledger, and billing applies them, retried until they commit.
 */
@Injectable()
export class CallBillingService {
  constructor(
    private readonly placer: HoldPlacer,
    private readonly outbox: SettleOutbox,
    private readonly keeper: HoldKeeper,
    private readonly limits: RateLimitService,
    private readonly leases: LeaseBook,
  ) {}

  /**
   * admit: the call's rate limit is checked (and counted, unless a dry run) in the same round trip as the
   * place; a refused call gets its 429 and no hold.
   */
  async hold(
    principal: KeyPrincipal,
    requestId: string,
    model: ModelView,
    amountMicros: number,
    opts: { kind?: 'call' | 'task'; ttlMs?: number; admit?: { reply: FastifyReply; count: boolean }; reply?: FastifyReply } = {},
  ): Promise<HoldPlaced> {
    const holdId = newId('hold');
    const kind = opts.kind ?? 'call';
    annotateCall(requestId, { key_id: principal.key_id, model: model.id });
    const req = {
      hold_id: holdId,
      account_id: principal.account_id,
      key_id: principal.key_id,
      request_id: requestId,
      model: model.id,
      amount_micros: amountMicros,
      kind,
      ttl_ms: opts.ttlMs,
    };
    try {
      let placed: HoldPlaced;
      try {
        // a call's hold may be drawn from the account's credit lease (LeaseBook), in the admission's round trip
        placed = await this.placer.place(req, opts.admit && this.admission(principal, opts.admit), kind === 'call');
      } catch (err) {
        // refused for balance while the account's lease held part of it: the lease is closed (its unused
        // part back) and the place tried once more, without counting the call again
        if (!this.leases.enabled || DomainError.from(err).code !== 'insufficient_balance' || (await this.leases.retire(principal.account_id)) === 0) throw err;
        placed = await this.placer.place(req);
      }
      if (kind === 'call') this.keeper.track(holdId, opts.admit?.reply.raw ?? opts.reply?.raw, placed.split);
      return placed;
    } catch (err) {
      const e = DomainError.from(err);
      // the place may have committed with its answer lost (billing slow or gone): release it to be sure;
      // a release of a hold that was never placed changes nothing
      if (!NO_HOLD_CODES.has(e.code)) this.outbox.push({ op: 'release', hold_id: holdId, reason: `place unanswered: ${e.message}` });
      throw e;
    }
  }

  private admission(principal: KeyPrincipal, admit: { reply: FastifyReply; count: boolean }): Admission {
    const [reqKey, tokKey] = this.limits.keys(principal);
    const { rpm, tpm } = this.limits.limits(principal);
    return { reqKey, tokKey, rpm, tpm, count: admit.count, onResult: (r) => this.limits.report(principal, admit.reply, r) };
  }

  /** Settles for the tokens used, priced from the model's per-token rates. */
  settleTokens(hold: HoldPlaced, principal: KeyPrincipal, requestId: string, model: ModelView, channelId: string | null, usage: TokenUsage): Promise<number> {
    return this.settle(hold, principal, requestId, model, channelId, tokenCostMicros(model.pricing, usage), usage);
  }

  /** Settles for a computed cost, through the outbox; resolves at once with the cost. */
  async settle(
    hold: HoldPlaced,
    principal: KeyPrincipal,
    requestId: string,
    model: ModelView,
    channelId: string | null,
    cost: number,
    tokens?: TokenUsage,
  ): Promise<number> {
    annotateCall(requestId, { channel_id: channelId, cost_micros: cost, input_tokens: tokens?.input_tokens, output_tokens: tokens?.output_tokens });
    this.outbox.push({
      op: 'settle',
      hold_id: hold.hold_id,
      cost_micros: cost,
      // price_id: the pricing the cost was computed from, kept on the usage record for the statement
      usage: { request_id: requestId, account_id: principal.account_id, key_id: principal.key_id, model: model.id, channel_id: channelId, tokens, price_id: model.price_id ?? null },
      trace: injectContext(),
      ...(hold.split ? { split: hold.split } : {}),
    }, tokens && principal.key_id ? { key: this.limits.tokenKey(principal.key_id), n: tokens.input_tokens + tokens.output_tokens } : undefined);
    this.keeper.untrack(hold.hold_id);
    this.placer.callEnded(hold.hold_id);
    recordCharge(model.id, cost, tokens);
    return cost;
  }

  /** A dry run placed the hold the live call would; it is released at once and only the estimate returned. */
  async dryRunAnswer(hold: HoldPlaced, model: string, estimate: number): Promise<{ dry_run: true; model: string; estimated_cost_micros: number }> {
    await this.release(hold, 'dry run');
    return { dry_run: true, model, estimated_cost_micros: estimate };
  }

  async release(hold: Pick<HoldPlaced, 'hold_id' | 'split'>, reason: string): Promise<void> {
    this.outbox.push({ op: 'release', hold_id: hold.hold_id, reason, trace: injectContext(), ...(hold.split ? { split: hold.split } : {}) });
    this.keeper.untrack(hold.hold_id);
    this.placer.callEnded(hold.hold_id);
  }
}
