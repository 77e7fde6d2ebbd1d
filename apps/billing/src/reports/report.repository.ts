import { Inject, Injectable } from '@nestjs/common';
import type { ExpiredHoldView, UsageGroupKey } from '@gateway/contracts';
import { Db, type PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

const { Prisma } = Db;
type Sql = Db.Prisma.Sql;

export interface LedgerTotals {
  account_id: string;
  opening: bigint;
  topups: bigint;
  adjustments: bigint;
  charges: bigint;
  charge_entries: bigint;
  closing: bigint;
  released: bigint;
  open_holds: bigint;
  hold_charges: bigint;
  balance_now: bigint;
  held_now: bigint;
  active_now: bigint;
  debt_now: bigint;
  expired_unsettled: bigint;
  expired_unsettled_micros: bigint;
}

/** the SQL of each usage group: its output column and the expression it groups on */
const GROUP_SQL: Record<UsageGroupKey, { select: Sql; expr: Sql }> = {
  account: { select: Prisma.sql`account_id`, expr: Prisma.sql`account_id` },
  key: { select: Prisma.sql`key_id`, expr: Prisma.sql`key_id` },
  model: { select: Prisma.sql`model`, expr: Prisma.sql`model` },
  day: { select: Prisma.sql`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`, expr: Prisma.sql`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')` },
};

export type UsageGroupDbRow = { day?: string; model?: string; key_id?: string | null; account_id?: string } & Record<
  'requests' | 'input_tokens' | 'cached_input_tokens' | 'output_tokens' | 'reasoning_tokens' | 'cost_micros',
  bigint
>;

/** ExpiredHoldView as Postgres returns it */
export type ExpiredHoldRow = Omit<ExpiredHoldView, 'amount_micros' | 'created_at' | 'expired_at'> & { amount_micros: bigint; created_at: Date; expired_at: Date };

/** The finance reports, read straight from the ledger and the holds in one statement each. */
@Injectable()
export class ReportRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  reconciliation(from: Date, to: Date, accountId: string | null): Promise<LedgerTotals[]> {
    return this.prisma.$queryRaw<LedgerTotals[]>`
      WITH l AS (
        SELECT account_id,
               COALESCE(SUM(amount_micros) FILTER (WHERE created_at < ${from}), 0) AS opening,
               COALESCE(SUM(amount_micros) FILTER (WHERE kind = 'topup' AND created_at >= ${from} AND created_at < ${to}), 0) AS topups,
               COALESCE(SUM(amount_micros) FILTER (WHERE kind IN ('refund', 'adjustment') AND created_at >= ${from} AND created_at < ${to}), 0) AS adjustments,
               COALESCE(-SUM(amount_micros) FILTER (WHERE kind IN ('charge', 'debt_payment') AND created_at >= ${from} AND created_at < ${to}), 0) AS charges,
               COALESCE(-SUM(amount_micros) FILTER (WHERE kind = 'charge' AND created_at >= ${from} AND created_at < ${to}), 0) AS charge_entries,
               COALESCE(SUM(amount_micros) FILTER (WHERE created_at < ${to}), 0) AS closing
          FROM ledger_entries GROUP BY account_id
      ), h AS (
        SELECT account_id,
               COALESCE(SUM(CASE WHEN state = 'settled' THEN amount_micros - settled_micros ELSE amount_micros END)
                        FILTER (WHERE state <> 'active' AND resolved_at >= ${from} AND resolved_at < ${to}), 0) AS released,
               COALESCE(SUM(amount_micros) FILTER (WHERE created_at < ${to} AND (state = 'active' OR resolved_at >= ${to})), 0) AS open_holds,
               COALESCE(SUM(settled_micros + overage_micros) FILTER (WHERE state = 'settled' AND resolved_at >= ${from} AND resolved_at < ${to}), 0) AS hold_charges,
               COALESCE(SUM(amount_micros) FILTER (WHERE state = 'active'), 0) AS active_now,
               COUNT(*) FILTER (WHERE state = 'expired' AND resolved_at >= ${from} AND resolved_at < ${to}) AS expired_unsettled,
               COALESCE(SUM(amount_micros) FILTER (WHERE state = 'expired' AND resolved_at >= ${from} AND resolved_at < ${to}), 0) AS expired_unsettled_micros
          FROM holds GROUP BY account_id
      )
      SELECT a.id AS account_id,
             COALESCE(l.opening, 0)::bigint AS opening, COALESCE(l.topups, 0)::bigint AS topups,
             COALESCE(l.adjustments, 0)::bigint AS adjustments, COALESCE(l.charges, 0)::bigint AS charges,
             COALESCE(l.charge_entries, 0)::bigint AS charge_entries, COALESCE(l.closing, 0)::bigint AS closing,
             COALESCE(h.released, 0)::bigint AS released, COALESCE(h.open_holds, 0)::bigint AS open_holds,
             COALESCE(h.hold_charges, 0)::bigint AS hold_charges, COALESCE(h.active_now, 0)::bigint AS active_now,
             a.balance_micros AS balance_now, a.held_micros AS held_now, a.debt_micros AS debt_now,
             COALESCE(h.expired_unsettled, 0)::bigint AS expired_unsettled, COALESCE(h.expired_unsettled_micros, 0)::bigint AS expired_unsettled_micros
        FROM accounts a
        LEFT JOIN l ON l.account_id = a.id
        LEFT JOIN h ON h.account_id = a.id
       WHERE a.created_at < ${to} AND (${accountId}::text IS NULL OR a.id = ${accountId}::text)
       ORDER BY a.id`;
  }

  /**
   * Holds that expired in the period and are still in that state: a hold settled late after its expiry is
   * settled, not expired. An expired hold's resolved_at is when it expired.
   */
  expiredHolds(from: Date, to: Date, accountId: string | null, limit: number): Promise<ExpiredHoldRow[]> {
    return this.prisma.$queryRaw<ExpiredHoldRow[]>`
      SELECT id, account_id, key_id, request_id, kind::text AS kind, model, amount_micros, created_at, resolved_at AS expired_at
        FROM holds
       WHERE state = 'expired' AND resolved_at >= ${from} AND resolved_at < ${to} AND (${accountId}::text IS NULL OR account_id = ${accountId}::text)
       ORDER BY resolved_at, id
       LIMIT ${limit}::int`;
  }

  /**
   * Usage records of [from, to) summed per group. The group columns come from a fixed list (never from
   * the caller's text), in the order asked.
   */
  usageGrouped(from: Date, to: Date, accountId: string | null, groupBy: UsageGroupKey[]): Promise<UsageGroupDbRow[]> {
    const cols = groupBy.map((g) => GROUP_SQL[g]);
    const select = cols.length ? Prisma.sql`${Prisma.join(cols.map((c) => c.select), ', ')}, ` : Prisma.empty;
    const group = cols.length ? Prisma.sql`GROUP BY ${Prisma.join(cols.map((c) => c.expr), ', ')} ORDER BY ${Prisma.join(cols.map((c) => c.expr), ', ')}` : Prisma.empty;
    return this.prisma.$queryRaw<UsageGroupDbRow[]>`
      SELECT ${select}COUNT(*)::bigint AS requests, COALESCE(SUM(input_tokens), 0)::bigint AS input_tokens,
             COALESCE(SUM(cached_input_tokens), 0)::bigint AS cached_input_tokens, COALESCE(SUM(output_tokens), 0)::bigint AS output_tokens,
             COALESCE(SUM(reasoning_tokens), 0)::bigint AS reasoning_tokens, COALESCE(SUM(cost_micros), 0)::bigint AS cost_micros
        FROM usage_records
       WHERE created_at >= ${from} AND created_at < ${to} AND (${accountId}::text IS NULL OR account_id = ${accountId}::text)
       ${group}`;
  }

  async now(): Promise<Date> {
    const [r] = await this.prisma.$queryRaw<Array<{ now: Date }>>`SELECT now() AS now`;
    return r.now;
  }
}
