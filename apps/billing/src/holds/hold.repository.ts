import { Inject, Injectable } from '@nestjs/common';
import type { UsageReport } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

export interface PlaceRow {
  status: 'ok' | 'insufficient_balance' | 'account_debt' | 'account_not_found';
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
}

/** Indexes of items sorted by a key: batches lock accounts in one order, so two batches cannot deadlock. */
function lockOrder<T>(items: T[], key: (t: T) => string): number[] {
  return items.map((_, i) => i).sort((a, b) => (key(items[a]) < key(items[b]) ? -1 : key(items[a]) > key(items[b]) ? 1 : a - b));
}

/**
 * Every money movement is one call of a SQL function from the migrations: atomic, one round trip. The
 * batch forms run many calls in one statement, so one transaction (group commit).
 */
@Injectable()
export class HoldRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async placeMany(items: PlaceInput[]): Promise<PlaceRow[]> {
    const order = lockOrder(items, (p) => p.accountId);
    const col = <T>(f: (p: PlaceInput) => T) => order.map((i) => f(items[i]));
    const rows = await this.prisma.$queryRaw<Array<PlaceRow & { idx: number }>>`
      SELECT r.idx, p.status, p.expires_at, p.available_micros
        FROM unnest(${order}::int[], ${col((p) => p.id)}::text[], ${col((p) => p.accountId)}::text[], ${col((p) => p.keyId)}::text[],
                    ${col((p) => p.requestId)}::text[], ${col((p) => p.kind)}::text[], ${col((p) => p.model)}::text[],
                    ${col((p) => String(p.amountMicros))}::text[], ${col((p) => String(p.ttlMs))}::text[])
             AS r(idx, id, account_id, key_id, request_id, kind, model, amount, ttl)
       CROSS JOIN LATERAL gw_place_hold(r.id, r.account_id, r.key_id, r.request_id, r.kind::hold_kind, r.model, r.amount::bigint, r.ttl::bigint) p`;
    const out: PlaceRow[] = new Array(items.length);
    for (const r of rows) out[r.idx] = r;
    return out;
  }

  /**
   * Settles a batch, and in the same statement (so the same transaction) records each settled call's usage
   * row: a charge and its usage record are written together or not at all.
   */
  async settleMany(items: SettleInput[]): Promise<SettleRow[]> {
    const col = <T>(f: (s: SettleInput) => T) => items.map(f);
    const u = (s: SettleInput) => s.usage;
    // the sub-select orders the calls by account (a hold's account never changes), the same lock order
    // as placeMany and the sweeper
    const rows = await this.prisma.$queryRaw<Array<SettleRow & { idx: number }>>`
      WITH s AS (
        SELECT q.idx, q.hold_id, st.status, st.charged_micros, st.released_micros, st.debt_micros
          FROM (SELECT r.idx, r.hold_id, r.cost
                  FROM unnest(${items.map((_, i) => i)}::int[], ${col((s) => s.holdId)}::text[], ${col((s) => String(s.costMicros))}::text[])
                       AS r(idx, hold_id, cost)
                  LEFT JOIN holds h ON h.id = r.hold_id
                 ORDER BY h.account_id, r.hold_id, r.idx) q
         CROSS JOIN LATERAL gw_settle_hold(q.hold_id, q.cost::bigint) st
      ), usage AS (
        INSERT INTO usage_records (request_id, account_id, key_id, hold_id, model, channel_id, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_micros)
        SELECT r.request_id, r.account_id, r.key_id, s.hold_id, r.model, r.channel_id,
               r.input_tokens::int, r.cached_input_tokens::int, r.output_tokens::int, r.reasoning_tokens::int, s.charged_micros
          FROM s
          JOIN unnest(${items.map((_, i) => i)}::int[], ${col((s) => u(s)?.request_id ?? null)}::text[], ${col((s) => u(s)?.account_id ?? null)}::text[],
                      ${col((s) => u(s)?.key_id ?? null)}::text[], ${col((s) => u(s)?.model ?? null)}::text[], ${col((s) => u(s)?.channel_id ?? null)}::text[],
                      ${col((s) => String(u(s)?.tokens?.input_tokens ?? 0))}::text[], ${col((s) => String(u(s)?.tokens?.cached_input_tokens ?? 0))}::text[],
                      ${col((s) => String(u(s)?.tokens?.output_tokens ?? 0))}::text[], ${col((s) => String(u(s)?.tokens?.reasoning_tokens ?? 0))}::text[])
               AS r(idx, request_id, account_id, key_id, model, channel_id, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens)
            ON r.idx = s.idx
         WHERE s.status = 'ok' AND r.request_id IS NOT NULL
        ON CONFLICT (request_id) DO NOTHING
      )
      SELECT idx, status, charged_micros, released_micros, debt_micros FROM s`;
    const out: SettleRow[] = new Array(items.length);
    for (const r of rows) out[r.idx] = r;
    return out;
  }

  async place(p: PlaceInput): Promise<PlaceRow> {
    const rows = await this.prisma.$queryRaw<PlaceRow[]>`
      SELECT status, expires_at, available_micros
        FROM gw_place_hold(${p.id}, ${p.accountId}, ${p.keyId}, ${p.requestId}, ${p.kind}::hold_kind,
                           ${p.model}, ${BigInt(p.amountMicros)}, ${BigInt(p.ttlMs)})`;
    return rows[0];
  }

  async settle(holdId: string, costMicros: number): Promise<SettleRow> {
    const rows = await this.prisma.$queryRaw<SettleRow[]>`
      SELECT status, charged_micros, released_micros, debt_micros FROM gw_settle_hold(${holdId}, ${BigInt(costMicros)})`;
    return rows[0];
  }

  async release(holdId: string, state: 'released' | 'expired', reason: string): Promise<ReleaseRow> {
    const rows = await this.prisma.$queryRaw<ReleaseRow[]>`
      SELECT status, released_micros FROM gw_release_hold(${holdId}, ${state}::hold_state, ${reason})`;
    return rows[0];
  }

  async expireDue(limit: number): Promise<number> {
    const rows = await this.prisma.$queryRaw<Array<{ n: number }>>`SELECT gw_expire_holds(${limit}::int) AS n`;
    return Number(rows[0].n);
  }

  states(ids: string[]) {
    return this.prisma.hold.findMany({ where: { id: { in: ids } }, select: { id: true, state: true } });
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
