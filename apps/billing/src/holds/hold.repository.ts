import { Inject, Injectable, Optional } from '@nestjs/common';
import type { LeaseSplit, UsageReport } from '@gateway/contracts';
import type { PgPool, PrismaClient } from '@gateway/db';
import { PG, PG_FAST, PRISMA } from '../shared/tokens';
import { holdOutcomes, leaseOutcomes } from '../ops/billing-metrics';

/** key_budget_exceeded: expires_at is when the key's budget resets, available_micros what is left of it. */
export interface PlaceRow {
  status: 'ok' | 'insufficient_balance' | 'account_debt' | 'account_not_found' | 'key_budget_exceeded';
  expires_at: Date | null;
  available_micros: bigint;
}

export interface SettleRow {
  status: 'ok' | 'already_settled' | 'already_released' | 'already_expired' | 'hold_not_found';
  charged_micros: bigint;
  released_micros: bigint;
  debt_micros: bigint;
}

export interface ReleaseRow {
  status: 'ok' | 'already_settled' | 'already_released' | 'already_expired' | 'hold_not_found';
  released_micros: bigint;
}

export interface PlaceInput {
  id: string;
  accountId: string;
  keyId: string | null;
  requestId: string;
  kind: 'call' | 'task';
  model: string;
  amountMicros: number;
  ttlMs: number;
}

export interface SettleInput {
  holdId: string;
  costMicros: number;
  /** what the call consumed: recorded with the charge */
  usage?: UsageReport;
  /** the call's hold was drawn from this lease (settleDrawnMany) */
  split?: LeaseSplit;
}

export interface ReleaseInput {
  holdId: string;
  state: 'released' | 'expired';
  reason: string;
}

/** Indexes of items sorted by a key: batches lock accounts in one order, so two batches cannot deadlock. */
function lockOrder<T>(items: T[], key: (t: T) => string): number[] {
  return items.map((_, i) => i).sort((a, b) => (key(items[a]) < key(items[b]) ? -1 : key(items[a]) > key(items[b]) ? 1 : a - b));
}

const big = (v: string | number | bigint | null): bigint => BigInt(v ?? 0);

/**
 * A named (prepared) statement: each connection parses and plans it once, not on every batch; for these
 * long statements that was about half of Postgres's time per call at small batches.
 */
const named = (name: string, text: string, values: unknown[]) => ({ name, text, values });

const PLACE_MANY = `
  SELECT r.idx, p.status, p.expires_at, p.available_micros
    FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::hold_kind[], $7::text[], $8::bigint[], $9::bigint[])
         AS r(idx, id, account_id, key_id, request_id, kind, model, amount, ttl)
   CROSS JOIN LATERAL gw_place_hold(r.id, r.account_id, r.key_id, r.request_id, r.kind, r.model, r.amount, r.ttl) p`;

// The usage rows of a settle batch's settled calls (s: idx, hold_id, status, charged_micros), in the batch's
// order, written in the settle's statement (so its transaction). Parameters $1 (idx) and $4..$16: request id,
// account, key, model, channel, the seven token counts, the price id (usageParams).
const USAGE_CTE = `), usage AS (
    INSERT INTO usage_records (request_id, account_id, key_id, hold_id, model, channel_id, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
                               cache_write_tokens, cache_write_1h_tokens, web_searches, cost_micros, price_id)
    SELECT r.request_id, r.account_id, r.key_id, s.hold_id, r.model, r.channel_id,
           r.input_tokens, r.cached_input_tokens, r.output_tokens, r.reasoning_tokens, r.cache_write_tokens, r.cache_write_1h_tokens, r.web_searches, s.charged_micros,
           r.price_id
      FROM s
      JOIN unnest($1::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[], $14::int[], $15::int[], $16::bigint[])
           AS r(idx, request_id, account_id, key_id, model, channel_id, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
                cache_write_tokens, cache_write_1h_tokens, web_searches, price_id)
        ON r.idx = s.idx
     WHERE s.status = 'ok' AND r.request_id IS NOT NULL
     ORDER BY s.idx
    ON CONFLICT (request_id) DO NOTHING
  )`;

/** $1..$16 of a settle batch: idx, hold id, cost, then USAGE_CTE's usage columns. */
function settleParams(items: SettleInput[]): unknown[] {
  const col = <T>(f: (s: SettleInput) => T) => items.map(f);
  const t = (s: SettleInput) => s.usage?.tokens;
  return [
    items.map((_, i) => i),
    col((s) => s.holdId),
    col((s) => String(s.costMicros)),
    col((s) => s.usage?.request_id ?? null),
    col((s) => s.usage?.account_id ?? null),
    col((s) => s.usage?.key_id ?? null),
    col((s) => s.usage?.model ?? null),
    col((s) => s.usage?.channel_id ?? null),
    col((s) => t(s)?.input_tokens ?? 0),
    col((s) => t(s)?.cached_input_tokens ?? 0),
    col((s) => t(s)?.output_tokens ?? 0),
    col((s) => t(s)?.reasoning_tokens ?? 0),
    col((s) => t(s)?.cache_write_tokens ?? 0),
    col((s) => t(s)?.cache_write_1h_tokens ?? 0),
    col((s) => t(s)?.web_searches ?? 0),
    col((s) => (s.usage?.price_id == null ? null : String(s.usage.price_id))),
  ];
}

// the sub-select orders the calls by account (a hold's account never changes): the same lock order as
// PLACE_MANY and the sweeper. The usage record is written in the same statement, so the same transaction
// as its charge.
const SETTLE_MANY = `
  WITH s AS (
    SELECT q.idx, q.hold_id, st.status, st.charged_micros, st.released_micros, st.debt_micros
      FROM (SELECT r.idx, r.hold_id, r.cost, r.account_id, r.key_id, r.request_id, r.model
              FROM unnest($1::int[], $2::text[], $3::bigint[], $5::text[], $6::text[], $4::text[], $7::text[]) AS r(idx, hold_id, cost, account_id, key_id, request_id, model)
              LEFT JOIN holds h ON h.id = r.hold_id
             ORDER BY COALESCE(h.account_id, r.account_id), r.hold_id, r.idx) q
     CROSS JOIN LATERAL gw_settle_call(q.hold_id, q.cost, q.account_id, q.key_id, q.request_id, q.model) st
${USAGE_CTE}
  SELECT idx, status, charged_micros, released_micros, debt_micros FROM s`;

// the settles of drawn calls (SettleInput.split): the draw leaves its lease and the call's hold is written
// once, settled (gw_settle_drawn_many); the usage rows as in SETTLE_MANY. $1..$16 as there, then the splits.
/** exported for scripts/bench-ids.js, which runs this very statement */
export const SETTLE_DRAWN_MANY = `
  WITH s AS (
    SELECT d.idx, d.hold_id, d.status, d.charged_micros, d.released_micros, d.debt_micros, d.drawn
      FROM gw_settle_drawn_many($1::int[], $17::text[], $2::text[], $18::bigint[], $3::bigint[], $19::text[], $20::text[], $21::text[], $22::text[], $23::bigint) d
${USAGE_CTE}
  SELECT idx, status, charged_micros, released_micros, debt_micros, drawn FROM s`;

const RELEASE_MANY = `
  SELECT q.idx, rl.status, rl.released_micros
    FROM (SELECT r.idx, r.hold_id, r.state, r.reason
            FROM unnest($1::int[], $2::text[], $3::hold_state[], $4::text[]) AS r(idx, hold_id, state, reason)
            LEFT JOIN holds h ON h.id = r.hold_id
           ORDER BY h.account_id, r.hold_id, r.idx) q
   CROSS JOIN LATERAL gw_release_hold(q.hold_id, q.state, q.reason) rl`;

// leases in one order (and a lease's draws by id): two batches cannot deadlock on lease rows
const SPLIT_MANY = `
  SELECT q.idx, gw_split_hold(q.lease_id, q.hold_id, q.draw, q.account_id, q.key_id, q.request_id, q.model, $9::bigint) AS status
    FROM (SELECT r.* FROM unnest($1::int[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
                 AS r(idx, lease_id, hold_id, draw, account_id, key_id, request_id, model)
           ORDER BY r.lease_id, r.hold_id) q`;

export type SplitStatus = 'ok' | 'exists' | 'lease_gone';

export interface LeaseGrantRow {
  status: 'ok' | 'too_small' | 'account_debt' | 'account_not_found';
  amount_micros: bigint;
  expires_at: Date | null;
  budgeted_keys: string[];
}

/**
 * Every money movement is one call of a SQL function from the migrations: atomic, one round trip. The
 * batch forms run many calls in one statement, so one transaction (group commit). The money statements
 * go through pg directly; listings go through Prisma.
 */
@Injectable()
export class HoldRepository {
  /** places and extensions go through `fast` when holds commit without waiting for the WAL flush */
  private readonly fast: PgPool;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(PG) private readonly pg: PgPool,
    @Optional() @Inject(PG_FAST) fast?: PgPool,
  ) {
    this.fast = fast ?? pg;
  }

  async placeMany(items: PlaceInput[]): Promise<PlaceRow[]> {
    const order = lockOrder(items, (p) => p.accountId);
    const col = <T>(f: (p: PlaceInput) => T) => order.map((i) => f(items[i]));
    const { rows } = await this.fast.query<{ idx: number; status: PlaceRow['status']; expires_at: Date | null; available_micros: string }>(named('gw_place_many', PLACE_MANY, [
      order,
      col((p) => p.id),
      col((p) => p.accountId),
      col((p) => p.keyId),
      col((p) => p.requestId),
      col((p) => p.kind),
      col((p) => p.model),
      col((p) => String(p.amountMicros)),
      col((p) => String(p.ttlMs)),
    ]));
    const out: PlaceRow[] = new Array(items.length);
    for (const r of rows) {
      out[r.idx] = { status: r.status, expires_at: r.expires_at, available_micros: big(r.available_micros) };
      (r.status === 'ok' ? holdOutcomes.placed : holdOutcomes.refused).inc();
    }
    return out;
  }

  /**
   * Settles a batch, and in the same statement (so the same transaction) records each settled call's usage
   * row: a charge and its usage record are written together or not at all.
   */
  async settleMany(items: SettleInput[], opts: { fast?: boolean } = {}): Promise<SettleRow[]> {
    const { rows } = await (opts.fast ? this.fast : this.pg).query<{ idx: number; status: SettleRow['status']; charged_micros: string; released_micros: string; debt_micros: string }>(
      named('gw_settle_many', SETTLE_MANY, settleParams(items)),
    );
    const out: SettleRow[] = new Array(items.length);
    for (const r of rows) {
      out[r.idx] = { status: r.status, charged_micros: big(r.charged_micros), released_micros: big(r.released_micros), debt_micros: big(r.debt_micros) };
      if (r.status === 'ok') holdOutcomes.settled.inc();
    }
    return out;
  }

  /**
   * Settles calls whose holds were drawn from credit leases (each item has a split): a draw still in its
   * lease is settled in one step, its hold row written once; one that was split off before (or settled: a
   * replay) or whose lease is gone settles as settleMany would. One statement, one transaction.
   */
  async settleDrawnMany(items: Array<SettleInput & { split: LeaseSplit }>, ttlMs: number): Promise<SettleRow[]> {
    const split = <T>(f: (sp: LeaseSplit) => T) => items.map((s) => f(s.split));
    const { rows } = await this.fast.query<{ idx: number; status: SettleRow['status']; charged_micros: string; released_micros: string; debt_micros: string; drawn: boolean }>(
      named('gw_settle_drawn_many', SETTLE_DRAWN_MANY, [
        ...settleParams(items),
        split((sp) => sp.lease_id),
        split((sp) => String(sp.draw_micros)),
        split((sp) => sp.account_id),
        split((sp) => sp.key_id),
        split((sp) => sp.request_id),
        split((sp) => sp.model),
        String(ttlMs),
      ]),
    );
    const out: SettleRow[] = new Array(items.length);
    for (const r of rows) {
      out[r.idx] = { status: r.status, charged_micros: big(r.charged_micros), released_micros: big(r.released_micros), debt_micros: big(r.debt_micros) };
      if (r.status === 'ok') holdOutcomes.settled.inc();
      // the draw became a hold of its own here (the split and the settle in one step)
      if (r.drawn) holdOutcomes.split.inc();
    }
    return out;
  }

  async releaseMany(items: ReleaseInput[], opts: { fast?: boolean } = {}): Promise<ReleaseRow[]> {
    const { rows } = await (opts.fast ? this.fast : this.pg).query<{ idx: number; status: ReleaseRow['status']; released_micros: string }>(named('gw_release_many', RELEASE_MANY, [
      items.map((_, i) => i),
      items.map((r) => r.holdId),
      items.map((r) => r.state),
      items.map((r) => r.reason),
    ]));
    const out: ReleaseRow[] = new Array(items.length);
    for (const r of rows) {
      out[r.idx] = { status: r.status, released_micros: big(r.released_micros) };
      if (r.status === 'ok') (items[r.idx].state === 'expired' ? holdOutcomes.expired : holdOutcomes.released).inc();
    }
    return out;
  }

  /** Makes calls' draws holds of their own (see gw_split_hold); in the order given. */
  async splitMany(items: LeaseSplit[], ttlMs: number): Promise<SplitStatus[]> {
    const { rows } = await this.fast.query<{ idx: number; status: SplitStatus }>(named('gw_split_many', SPLIT_MANY, [
      items.map((_, i) => i),
      items.map((s) => s.lease_id),
      items.map((s) => s.hold_id),
      items.map((s) => String(s.draw_micros)),
      items.map((s) => s.account_id),
      items.map((s) => s.key_id),
      items.map((s) => s.request_id),
      items.map((s) => s.model),
      String(ttlMs),
    ]));
    const out: SplitStatus[] = new Array(items.length);
    for (const r of rows) {
      out[r.idx] = r.status;
      if (r.status === 'ok') holdOutcomes.split.inc();
    }
    return out;
  }

  async grantLease(id: string, accountId: string, maxMicros: number, minMicros: number, share: number, ttlMs: number): Promise<LeaseGrantRow> {
    const { rows } = await this.pg.query<{ status: LeaseGrantRow['status']; amount_micros: string; expires_at: Date | null; budgeted_keys: string[] }>(
      'SELECT * FROM gw_grant_lease($1, $2, $3::bigint, $4::bigint, $5::bigint, $6::bigint)',
      [id, accountId, String(maxMicros), String(minMicros), String(share), String(ttlMs)],
    );
    const r = rows[0];
    (r.status === 'ok' ? leaseOutcomes.granted : leaseOutcomes.refused).inc();
    return { status: r.status, amount_micros: big(r.amount_micros), expires_at: r.expires_at, budgeted_keys: r.budgeted_keys ?? [] };
  }

  async closeLease(id: string, unusedMicros: number, opts: { fast?: boolean } = {}): Promise<{ status: 'ok' | 'not_open'; released_micros: bigint }> {
    const { rows } = await (opts.fast ? this.fast : this.pg).query<{ status: 'ok' | 'not_open'; released_micros: string }>('SELECT * FROM gw_close_lease($1, $2::bigint)', [id, String(unusedMicros)]);
    if (rows[0].status === 'ok') leaseOutcomes.closed.inc();
    return { status: rows[0].status, released_micros: big(rows[0].released_micros) };
  }

  async place(p: PlaceInput): Promise<PlaceRow> {
    return (await this.placeMany([p]))[0];
  }

  async settle(holdId: string, costMicros: number): Promise<SettleRow> {
    return (await this.settleMany([{ holdId, costMicros }]))[0];
  }

  async release(holdId: string, state: 'released' | 'expired', reason: string): Promise<ReleaseRow> {
    return (await this.releaseMany([{ holdId, state, reason }]))[0];
  }

  async extend(ids: string[], ttlMs: number): Promise<number> {
    const { rows } = await this.fast.query<{ n: number }>('SELECT gw_extend_holds($1::text[], $2::bigint) AS n', [ids, String(ttlMs)]);
    return Number(rows[0].n);
  }

  /**
   * Returns once everything committed before it, on any connection, is on disk: a transactional WAL record
   * committed with synchronous_commit on flushes the WAL up to it, and the WAL is one sequence. Statements
   * committed fast (without waiting for the flush) are durable after a fence; they hold no row lock while
   * the disk syncs.
   */
  async fence(): Promise<void> {
    await this.pg.query({ name: 'gw_fence', text: "SELECT pg_logical_emit_message(true, 'gw_fence', '')" });
  }

  async expireDue(limit: number): Promise<number> {
    const { rows } = await this.pg.query<{ n: number }>('SELECT gw_expire_holds($1::int) AS n', [limit]);
    const n = Number(rows[0].n);
    if (n > 0) holdOutcomes.expired.inc(n);
    return n;
  }

  list(filter: { state?: 'active' | 'settled' | 'released' | 'expired'; accountId?: string; limit: number }) {
    return this.prisma.hold.findMany({
      where: { ...(filter.state ? { state: filter.state } : {}), ...(filter.accountId ? { accountId: filter.accountId } : {}) },
      orderBy: { createdAt: 'desc' },
      take: filter.limit,
      include: { events: { orderBy: { id: 'asc' } } },
    });
  }
}
