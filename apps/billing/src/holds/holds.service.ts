import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DomainError,
  formatUsd,
  isTransientDbError,
  newId,
  type ErrorBody,
  type HoldPlaced,
  type HoldReleased,
  type HoldSettled,
  type HoldView,
  type LeaseGranted,
  type LeaseSplit,
  type OutboxOp,
  type PlaceHoldRequest,
  type RpcRequest,
} from '@gateway/contracts';
import { runWithRequestId } from '@gateway/logging';
import type { BillingConfig } from '@gateway/config';
import { retryTransient } from '@gateway/db';
import { BudgetRepository } from '../budgets/budget.repository';
import { CONFIG } from '../shared/tokens';
import { GroupCommitter } from './group-committer';
import { HoldRepository, type PlaceInput, type PlaceRow, type ReleaseInput, type ReleaseRow, type SettleInput, type SettleRow } from './hold.repository';

/** What a failed statement becomes for the caller: a lost database is a 503, never its driver's text. */
export function dbFailure(err: unknown): DomainError {
  if (err instanceof DomainError) return err;
  if (isTransientDbError(err)) return new DomainError('service_unavailable', 'the billing database is unavailable; try again shortly');
  return new DomainError('internal', `billing failed: ${(err as Error).message}`);
}

@Injectable()
export class HoldsService {
  private readonly logger = new Logger(HoldsService.name);
  private readonly placeOne: (p: PlaceInput) => Promise<PlaceRow>;
  private readonly settleOne: (s: SettleInput) => Promise<SettleRow>;
  private readonly releaseOne: (r: ReleaseInput) => Promise<ReleaseRow>;

  constructor(
    private readonly holds: HoldRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly budgets: BudgetRepository,
  ) {
    // places are idempotent on the hold's id, so a statement lost with its connection is run again on a
    // fresh one; a place gives up when its caller would have (the RPC deadline)
    const placeWrite = (b: PlaceInput[]) => retryTransient(() => holds.placeMany(b), { until: Date.now() + config.RPC_TIMEOUT_MS });
    const settleWrite = (b: SettleInput[]) => retryTransient(() => holds.settleMany(b), { until: Date.now() + config.RPC_TIMEOUT_MS });
    const releaseWrite = (b: ReleaseInput[]) => retryTransient(() => holds.releaseMany(b), { until: Date.now() + config.RPC_TIMEOUT_MS });
    if (config.BILLING_BATCH) {
      const placer = new GroupCommitter(placeWrite);
      const settler = new GroupCommitter(settleWrite);
      const releaser = new GroupCommitter(releaseWrite);
      this.placeOne = (p) => placer.submit(p);
      this.settleOne = (s) => settler.submit(s);
      this.releaseOne = (r) => releaser.submit(r);
    } else {
      // BILLING_BATCH=off: each hold and settle in its own transaction, concurrently (the benchmark's baseline)
      this.placeOne = async (p) => (await placeWrite([p]))[0];
      this.settleOne = async (s) => (await settleWrite([s]))[0];
      this.releaseOne = async (r) => (await releaseWrite([r]))[0];
    }
  }

  async place(req: PlaceHoldRequest): Promise<HoldPlaced> {
    if (!Number.isSafeInteger(req.amount_micros) || req.amount_micros < 0) {
      throw new DomainError('invalid_request', `hold amount must be a non-negative integer of micros, got ${req.amount_micros}`);
    }
    const id = req.hold_id ?? newId('hold');
    let row: PlaceRow;
    try {
      row = await this.placeOne({
        id,
        accountId: req.account_id,
        keyId: req.key_id,
        requestId: req.request_id,
        kind: req.kind ?? 'call',
        model: req.model,
        amountMicros: req.amount_micros,
        ttlMs: req.ttl_ms ?? this.config.HOLD_TTL_MS,
      });
    } catch (err) {
      throw dbFailure(err);
    }
    switch (row.status) {
      case 'ok':
        // a message may carry the places of several calls: each line names its own
        runWithRequestId(req.request_id, () => this.logger.log({ msg: 'hold placed', hold_id: id, key_id: req.key_id ?? null, model: req.model ?? null, amount_micros: req.amount_micros }));
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
      case 'key_budget_exceeded':
        throw await this.budgetSpent(req, row);
    }
  }

  /** A 402 like a short balance, but saying it is the key's budget that is spent: its limit, period and reset. */
  private async budgetSpent(req: PlaceHoldRequest, row: PlaceRow): Promise<DomainError> {
    const budget = req.key_id ? await this.budgets.find(req.key_id).catch(() => null) : null;
    const of = budget ? ` of ${formatUsd(budget.limit_micros)} per ${budget.period}` : '';
    return new DomainError(
      'insufficient_balance',
      `this API key's budget${of} is spent: this request may cost up to ${formatUsd(req.amount_micros)} ` +
        `and ${formatUsd(Number(row.available_micros))} of the budget is left; it resets at ${row.expires_at!.toISOString()}`,
    );
  }

  /** Many places from one message: each answers on its own; they still share the statements of a batch. */
  placeMany(items: PlaceHoldRequest[]): Promise<Array<{ ok?: HoldPlaced; err?: ErrorBody }>> {
    return Promise.all(
      items.map((item) =>
        this.place(item).then(
          (ok) => ({ ok }),
          (err: unknown) => ({ err: dbFailure(err).toBody() }),
        ),
      ),
    );
  }

  async extend(ids: string[], ttlMs?: number, splits?: LeaseSplit[]): Promise<{ extended: number }> {
    if (ids.length === 0) return { extended: 0 };
    try {
      // a long call drawn from a lease first becomes a hold of its own, which is then extended like any other
      if (splits?.length) await retryTransient(() => this.holds.splitMany(splits.slice(0, 10_000), this.config.HOLD_TTL_MS), { until: Date.now() + this.config.RPC_TIMEOUT_MS });
      const extended = await retryTransient(() => this.holds.extend(ids.slice(0, 10_000), ttlMs ?? this.config.HOLD_TTL_MS), { until: Date.now() + this.config.RPC_TIMEOUT_MS });
      return { extended };
    } catch (err) {
      throw dbFailure(err);
    }
  }

  /** A credit lease for the account (see the credit_leases migration); its id is the caller's, so a retry gives one lease. */
  async lease(req: RpcRequest<'holds.lease'>): Promise<LeaseGranted> {
    if (!Number.isSafeInteger(req.max_micros) || !Number.isSafeInteger(req.min_micros) || req.min_micros < 0 || req.max_micros < req.min_micros) {
      throw new DomainError('invalid_request', `lease bounds must be integers of micros with 0 <= min <= max, got ${req.min_micros}..${req.max_micros}`);
    }
    try {
      const row = await retryTransient(
        () => this.holds.grantLease(req.lease_id, req.account_id, req.max_micros, req.min_micros, this.config.LEASE_SHARE, this.config.LEASE_TTL_MS || this.config.HOLD_TTL_MS),
        { until: Date.now() + this.config.RPC_TIMEOUT_MS },
      );
      if (row.status === 'ok') this.logger.log({ msg: 'lease granted', lease_id: req.lease_id, account_id: req.account_id, amount_micros: Number(row.amount_micros) });
      return { status: row.status, lease_id: req.lease_id, amount_micros: Number(row.amount_micros), expires_at: row.expires_at?.toISOString() ?? null, budgeted_keys: row.budgeted_keys };
    } catch (err) {
      throw dbFailure(err);
    }
  }

  async closeLease(req: RpcRequest<'holds.closeLease'>): Promise<{ status: 'ok' | 'not_open'; released_micros: number }> {
    if (!Number.isSafeInteger(req.unused_micros) || req.unused_micros < 0) throw new DomainError('invalid_request', `unused_micros must be a non-negative integer, got ${req.unused_micros}`);
    try {
      const r = await retryTransient(() => this.holds.closeLease(req.lease_id, req.unused_micros), { until: Date.now() + this.config.RPC_TIMEOUT_MS });
      return { status: r.status, released_micros: Number(r.released_micros) };
    } catch (err) {
      throw dbFailure(err);
    }
  }

  async settle(req: RpcRequest<'holds.settle'>): Promise<HoldSettled> {
    if (!Number.isSafeInteger(req.cost_micros) || req.cost_micros < 0) {
      throw new DomainError('invalid_request', `cost must be a non-negative integer of micros, got ${req.cost_micros}`);
    }
    let row: SettleRow;
    try {
      row = await this.settleOne({ holdId: req.hold_id, costMicros: req.cost_micros, usage: req.usage });
    } catch (err) {
      throw dbFailure(err);
    }
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

  async release(req: RpcRequest<'holds.release'>): Promise<HoldReleased> {
    let row: ReleaseRow;
    try {
      row = await this.releaseOne({ holdId: req.hold_id, state: 'released', reason: req.reason });
    } catch (err) {
      throw dbFailure(err);
    }
    if (row.status === 'hold_not_found') throw new DomainError('not_found', `hold ${req.hold_id} not found`);
    return { hold_id: req.hold_id, status: row.status, released_micros: Number(row.released_micros) };
  }

  /**
   * Applies a batch of outbox entries: the settles in one statement, the releases in another, each one
   * transaction committed without waiting for the disk, then one WAL fence before the caller acknowledges. Throws only when the database cannot be reached (the caller retries the whole batch,
   * which is safe: each hold resolves once). An entry that fails for any other reason is returned, so
   * that it is parked rather than retried forever.
   */
  async applyOutbox(ops: OutboxOp[]): Promise<{ applied: number; ignored: number; poison: Array<{ op: OutboxOp; error: string }> }> {
    const poison: Array<{ op: OutboxOp; error: string }> = [];
    const settles: SettleInput[] = [];
    const releases: ReleaseInput[] = [];
    const splits: LeaseSplit[] = [];
    const drawnSettles: Array<SettleInput & { split: LeaseSplit }> = [];
    const closes: Array<{ lease_id: string; unused_micros: number }> = [];
    for (const op of ops) {
      if ((op.op === 'settle' || op.op === 'release') && op.split) {
        const sp = op.split;
        if (typeof sp.lease_id !== 'string' || sp.hold_id !== op.hold_id || !Number.isSafeInteger(sp.draw_micros) || sp.draw_micros < 0) {
          poison.push({ op, error: 'bad lease split' });
          continue;
        }
        // a drawn call's settle splits and settles in one step (settleDrawnMany); a release splits first
        if (op.op === 'release') splits.push(sp);
      }
      if (op.op === 'close') {
        if (typeof op.lease_id !== 'string' || !Number.isSafeInteger(op.unused_micros) || op.unused_micros < 0) poison.push({ op, error: `bad lease close: ${op.unused_micros}` });
        else closes.push({ lease_id: op.lease_id, unused_micros: op.unused_micros });
      } else if (op.op === 'settle') {
        if (!Number.isSafeInteger(op.cost_micros) || op.cost_micros < 0 || typeof op.hold_id !== 'string') poison.push({ op, error: `bad settle: cost ${op.cost_micros}` });
        else if (op.split) drawnSettles.push({ holdId: op.hold_id, costMicros: op.cost_micros, usage: op.usage, split: op.split });
        else settles.push({ holdId: op.hold_id, costMicros: op.cost_micros, usage: op.usage });
      } else if (op.op === 'release' && typeof op.hold_id === 'string') {
        releases.push({ holdId: op.hold_id, state: 'released', reason: String(op.reason ?? 'released') });
      } else {
        poison.push({ op, error: 'unknown outbox entry' });
      }
    }
    let applied = 0;
    let ignored = 0;
    const count = (rows: Array<{ status: string }>) => {
      for (const r of rows) r.status === 'ok' ? applied++ : ignored++;
    };
    // a released call's draw becomes a hold of its own first (a replayed split changes nothing; a lease
    // already gone leaves nothing to release; a split that fails otherwise leaves its draw held in the
    // lease until the lease expires); a settled call's draw does so in its settle (settleDrawnMany)
    if (splits.length) await this.isolate(splits, (b) => this.holds.splitMany(b, this.config.HOLD_TTL_MS), (sp, e) => this.logger.error(`split of ${sp.hold_id} from lease ${sp.lease_id} failed: ${e}`));
    // settles first: a release that races a settle of the same hold must not win by ordering alone
    if (drawnSettles.length) count(await this.isolate(drawnSettles, (b) => this.holds.settleDrawnMany(b, this.config.HOLD_TTL_MS), (s, e) => poison.push({ op: { op: 'settle', hold_id: s.holdId, cost_micros: s.costMicros, usage: s.usage, split: s.split }, error: e })));
    if (settles.length) count(await this.isolate(settles, (b) => this.holds.settleMany(b, { fast: true }), (s, e) => poison.push({ op: { op: 'settle', hold_id: s.holdId, cost_micros: s.costMicros, usage: s.usage }, error: e })));
    if (releases.length) count(await this.isolate(releases, (b) => this.holds.releaseMany(b, { fast: true }), (r, e) => poison.push({ op: { op: 'release', hold_id: r.holdId, reason: r.reason }, error: e })));
    // a lease is closed after the splits of its draws that came in the same batch
    for (const c of closes) {
      try {
        const r = await this.holds.closeLease(c.lease_id, c.unused_micros, { fast: true });
        r.status === 'ok' ? applied++ : ignored++;
      } catch (err) {
        if (isTransientDbError(err)) throw err;
        poison.push({ op: { op: 'close', ...c }, error: (err as Error).message });
      }
    }
    // acknowledged entries must be on disk: one flush for the whole batch, after its locks are gone
    await this.holds.fence();
    return { applied, ignored, poison };
  }

  /** One statement for the batch; if it fails for a reason other than the connection, item by item. */
  private async isolate<T, R>(items: T[], write: (b: T[]) => Promise<R[]>, onPoison: (item: T, error: string) => void): Promise<R[]> {
    try {
      return await write(items);
    } catch (err) {
      if (isTransientDbError(err)) throw err;
      if (items.length === 1) {
        onPoison(items[0], (err as Error).message);
        return [];
      }
      const out: R[] = [];
      for (const item of items) {
        try {
          out.push(...(await write([item])));
        } catch (e) {
          if (isTransientDbError(e)) throw e;
          onPoison(item, (e as Error).message);
        }
      }
      return out;
    }
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
      lease_id: h.leaseId,
      history: holdHistory(h),
    }));
  }
}

/**
 * A hold's state history from its events. A call drawn from a credit lease and settled in one step has no
 * event rows (gw_settle_drawn_many writes only its hold row, with lease_id): its history is the one event
 * such a call had before the drawn_lease_link migration, made from the row (what was charged, when).
 */
export function holdHistory(h: {
  events: Array<{ state: string; amountMicros: bigint; reason: string | null; at: Date }>;
  leaseId: string | null;
  state: string;
  settledMicros: bigint;
  overageMicros: bigint;
  resolvedAt: Date | null;
  createdAt: Date;
}): HoldView['history'] {
  if (h.events.length === 0 && h.leaseId && h.state === 'settled') {
    const at = (h.resolvedAt ?? h.createdAt).toISOString();
    return [{ state: 'settled', amount_micros: Number(h.settledMicros + h.overageMicros), reason: `drawn from ${h.leaseId}`, at }];
  }
  return h.events.map((e) => ({ state: e.state, amount_micros: Number(e.amountMicros), reason: e.reason, at: e.at.toISOString() }));
}
