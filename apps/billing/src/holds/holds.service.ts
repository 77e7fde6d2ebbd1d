import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DomainError,
  formatUsd,
  newId,
  type HoldPlaced,
  type HoldReleased,
  type HoldSettled,
  type HoldView,
  type RpcRequest,
} from '@gateway/contracts';
import type { BillingConfig } from '@gateway/config';
import { CONFIG } from '../shared/tokens';
import { GroupCommitter } from './group-committer';
import { HoldRepository, type PlaceInput, type PlaceRow, type SettleInput, type SettleRow } from './hold.repository';

@Injectable()
export class HoldsService {
  private readonly logger = new Logger(HoldsService.name);
  private readonly placeOne: (p: PlaceInput) => Promise<PlaceRow>;
  private readonly settleOne: (s: SettleInput) => Promise<SettleRow>;

  constructor(
    private readonly holds: HoldRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
  ) {
    if (config.BILLING_BATCH) {
      const placer = new GroupCommitter((b: PlaceInput[]) => holds.placeMany(b));
      const settler = new GroupCommitter((b: SettleInput[]) => holds.settleMany(b));
      this.placeOne = (p) => placer.submit(p);
      this.settleOne = (s) => settler.submit(s);
    } else {
      // BILLING_BATCH=off: each hold and settle in its own transaction, concurrently (the benchmark's baseline)
      this.placeOne = (p) => holds.place(p);
      this.settleOne = async (s) => (await holds.settleMany([s]))[0];
    }
  }

  async place(req: RpcRequest<'holds.place'>): Promise<HoldPlaced> {
    if (!Number.isSafeInteger(req.amount_micros) || req.amount_micros < 0) {
      throw new DomainError('invalid_request', `hold amount must be a non-negative integer of micros, got ${req.amount_micros}`);
    }
    const id = newId('hold');
    const row = await this.placeOne({
      id,
      accountId: req.account_id,
      keyId: req.key_id,
      requestId: req.request_id,
      kind: req.kind ?? 'call',
      model: req.model,
      amountMicros: req.amount_micros,
      ttlMs: req.ttl_ms ?? this.config.HOLD_TTL_MS,
    });
    switch (row.status) {
      case 'ok':
        return { hold_id: id, amount_micros: req.amount_micros, expires_at: row.expires_at!.toISOString() };
      case 'account_not_found':
        throw new DomainError('unauthorized', 'the account of this key no longer exists');
      case 'account_debt':
        throw new DomainError('insufficient_balance', 'the account has unpaid usage; top up to continue');
      case 'insufficient_balance':
        throw new DomainError(
          'insufficient_balance',
          `insufficient balance: this request may cost up to ${formatUsd(req.amount_micros)} ` +
            `and ${formatUsd(Number(row.available_micros))} is available`,
        );
    }
  }

  async settle(req: RpcRequest<'holds.settle'>): Promise<HoldSettled> {
    if (!Number.isSafeInteger(req.cost_micros) || req.cost_micros < 0) {
      throw new DomainError('invalid_request', `cost must be a non-negative integer of micros, got ${req.cost_micros}`);
    }
    const row = await this.settleOne({ holdId: req.hold_id, costMicros: req.cost_micros, usage: req.usage });
    if (row.status === 'hold_not_found') throw new DomainError('not_found', `hold ${req.hold_id} not found`);
    if (row.status !== 'ok') this.logger.warn(`settle of ${req.hold_id} ignored: ${row.status}`);
    return {
      hold_id: req.hold_id,
      status: row.status,
      charged_micros: Number(row.charged_micros),
      released_micros: Number(row.released_micros),
      debt_micros: Number(row.debt_micros),
    };
  }

  async states(ids: string[]): Promise<Array<{ id: string; state: HoldView['state'] }>> {
    return this.holds.states(ids.slice(0, 1000));
  }

  async list(req: RpcRequest<'holds.list'>): Promise<HoldView[]> {
    const rows = await this.holds.list({ state: req.state, accountId: req.account_id, limit: Math.min(req.limit ?? 100, 1000) });
    return rows.map((h) => ({
      id: h.id,
      account_id: h.accountId,
      key_id: h.keyId,
      request_id: h.requestId,
      kind: h.kind,
      model: h.model,
      state: h.state,
      amount_micros: Number(h.amountMicros),
      settled_micros: Number(h.settledMicros),
      overage_micros: Number(h.overageMicros),
      debt_micros: Number(h.debtMicros),
      expires_at: h.expiresAt.toISOString(),
      created_at: h.createdAt.toISOString(),
      resolved_at: h.resolvedAt?.toISOString() ?? null,
      history: h.events.map((e) => ({ state: e.state, amount_micros: Number(e.amountMicros), reason: e.reason, at: e.at.toISOString() })),
    }));
  }

  async release(req: RpcRequest<'holds.release'>): Promise<HoldReleased> {
    const row = await this.holds.release(req.hold_id, 'released', req.reason);
    if (row.status === 'hold_not_found') throw new DomainError('not_found', `hold ${req.hold_id} not found`);
    return { hold_id: req.hold_id, status: row.status, released_micros: Number(row.released_micros) };
  }
}
