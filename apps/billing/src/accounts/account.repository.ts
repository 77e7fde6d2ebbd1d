import { Inject, Injectable } from '@nestjs/common';
import type { AccountView, LedgerEntryView, LedgerKind, Pricing, StatementEntry } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

interface AccountRow {
  id: string;
  name: string;
  balanceMicros: bigint;
  heldMicros: bigint;
  debtMicros: bigint;
  createdAt: Date;
}

export function toAccountView(a: AccountRow): AccountView {
  return {
    id: a.id,
    name: a.name,
    balance_micros: Number(a.balanceMicros),
    held_micros: Number(a.heldMicros),
    available_micros: Number(a.balanceMicros - a.heldMicros),
    debt_micros: Number(a.debtMicros),
    created_at: a.createdAt.toISOString(),
  };
}

export interface LedgerRow {
  id: bigint;
  accountId: string;
  kind: string;
  amountMicros: bigint;
  balanceAfterMicros: bigint;
  reference: string | null;
  reason: string | null;
  actor: string | null;
  createdAt: Date;
}

export function toLedgerEntryView(l: LedgerRow): LedgerEntryView {
  return {
    id: Number(l.id),
    account_id: l.accountId,
    kind: l.kind as LedgerKind,
    amount_micros: Number(l.amountMicros),
    balance_after_micros: Number(l.balanceAfterMicros),
    reference: l.reference,
    reason: l.reason,
    actor: l.actor,
    created_at: l.createdAt.toISOString(),
  };
}

export interface AdjustResult {
  status: 'ok' | 'duplicate' | 'insufficient_balance' | 'account_not_found';
  entry_id: bigint | null;
  balance_micros: bigint;
  available_micros: bigint;
}

/** A statement entry as Postgres returns it: amounts bigint, the usage flat. */
export interface StatementRow {
  id: bigint;
  /** the sum of the period's amounts up to this entry (the opening balance is added by toStatementEntry) */
  created_at: Date;
  kind: string;
  amount_micros: bigint;
  running: bigint;
  reference: string | null;
  reason: string | null;
  actor: string | null;
  hold_id: string | null;
  request_id: string | null;
  model: string | null;
  has_usage: boolean;
  input_tokens: number | null;
  cached_input_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  cache_write_tokens: number | null;
  cache_write_1h_tokens: number | null;
  web_searches: number | null;
  price_id: bigint | null;
  unit_prices: Pricing | null;
}

export function toStatementEntry(r: StatementRow, opening: bigint): StatementEntry {
  return {
    id: Number(r.id),
    created_at: r.created_at.toISOString(),
    kind: r.kind as LedgerKind,
    amount_micros: Number(r.amount_micros),
    running_balance_micros: Number(opening + BigInt(r.running)),
    reference: r.reference,
    reason: r.reason,
    actor: r.actor,
    hold_id: r.hold_id,
    request_id: r.request_id,
    model: r.model,
    usage: r.has_usage
      ? {
          input_tokens: r.input_tokens ?? 0,
          cached_input_tokens: r.cached_input_tokens ?? 0,
          output_tokens: r.output_tokens ?? 0,
          reasoning_tokens: r.reasoning_tokens ?? 0,
          cache_write_tokens: r.cache_write_tokens ?? 0,
          cache_write_1h_tokens: r.cache_write_1h_tokens ?? 0,
          web_searches: r.web_searches ?? 0,
          unit_prices: r.unit_prices ?? {},
          price_id: r.price_id === null ? null : Number(r.price_id),
        }
      : null,
  };
}

export interface TopupResult {
  status: 'ok' | 'duplicate' | 'account_not_found';
  topup_id: string | null;
  balance_micros: bigint;
}

@Injectable()
export class AccountRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  create(id: string, name: string): Promise<AccountRow> {
    return this.prisma.account.create({ data: { id, name } });
  }

  find(id: string): Promise<AccountRow | null> {
    return this.prisma.account.findUnique({ where: { id } });
  }

  list(limit: number): Promise<AccountRow[]> {
    return this.prisma.account.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit });
  }

  async topup(id: string, accountId: string, amountMicros: number, reference: string, reason: string | null = null, actor: string | null = null): Promise<TopupResult> {
    const rows = await this.prisma.$queryRaw<TopupResult[]>`
      SELECT status, topup_id, balance_micros FROM gw_topup(${id}, ${accountId}, ${BigInt(amountMicros)}, ${reference}, ${reason}::text, ${actor}::text)`;
    return rows[0];
  }

  findTopup(id: string) {
    return this.prisma.topup.findUnique({ where: { id } });
  }

  /** the ledger entry a top-up credited (its reason and actor) */
  topupEntry(topupId: string) {
    return this.prisma.ledgerEntry.findFirst({ where: { topupId, kind: 'topup' } });
  }

  /** One call of gw_adjust: the account locked, idempotent on (account, kind, reference), a debit bounded by the available balance. */
  async adjust(input: { accountId: string; kind: 'refund' | 'adjustment'; amountMicros: number; reference: string; reason: string; actor: string | null; requestId: string | null }): Promise<AdjustResult> {
    const rows = await this.prisma.$queryRaw<AdjustResult[]>`
      SELECT status, entry_id, balance_micros, available_micros
        FROM gw_adjust(${input.accountId}, ${input.kind}::ledger_kind, ${BigInt(input.amountMicros)}, ${input.reference}, ${input.reason}, ${input.actor}::text, ${input.requestId}::text)`;
    return rows[0];
  }

  ledgerEntry(id: bigint): Promise<LedgerRow | null> {
    return this.prisma.ledgerEntry.findUnique({ where: { id } });
  }

  usageRecord(requestId: string) {
    return this.prisma.usageRecord.findUnique({ where: { requestId }, select: { accountId: true } });
  }

  /**
   * The sum of the account's ledger before `from` (the opening balance), the account's balance now and the
   * entries of [from, to): read in one repeatable-read snapshot, so they agree with each other.
   */
  async statementOf(accountId: string, from: Date, to: Date): Promise<{ opening: bigint; balance: bigint; rows: StatementRow[] } | null> {
    const [head, rows] = await this.prisma.$transaction(
      [
        this.prisma.$queryRaw<Array<{ opening: bigint; balance: bigint }>>`
          SELECT COALESCE((SELECT SUM(l.amount_micros) FROM ledger_entries l WHERE l.account_id = a.id AND l.created_at < ${from}), 0)::bigint AS opening,
                 a.balance_micros AS balance
            FROM accounts a WHERE a.id = ${accountId}`,
        this.statement(accountId, from, to),
      ],
      { isolationLevel: 'RepeatableRead' },
    );
    if (!head[0]) return null;
    return { opening: head[0].opening, balance: head[0].balance, rows };
  }

  /**
   * The entries of [from, to) in ledger order with running balances from `opening`. A charge joins its hold
   * (request id, model) and the usage record written in the settle's own transaction (same account, same
   * time, same hold), whose price_id names the model_prices row the call was priced at; a usage record
   * written before price ids were kept falls back to the model's pricing in effect when it was written.
   */
  private statement(accountId: string, from: Date, to: Date) {
    return this.prisma.$queryRaw<StatementRow[]>`
      SELECT l.id, l.created_at, l.kind::text AS kind, l.amount_micros,
             (SUM(l.amount_micros) OVER (ORDER BY l.id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))::bigint AS running,
             l.reference, l.reason, l.actor, l.hold_id,
             COALESCE(u.request_id, h.request_id, l.request_id) AS request_id,
             COALESCE(u.model, h.model) AS model,
             (u.id IS NOT NULL) AS has_usage,
             u.input_tokens, u.cached_input_tokens, u.output_tokens, u.reasoning_tokens,
             u.cache_write_tokens, u.cache_write_1h_tokens, u.web_searches,
             u.price_id, COALESCE(mp.pricing, f.pricing) AS unit_prices
        FROM ledger_entries l
        LEFT JOIN holds h ON h.id = l.hold_id
        LEFT JOIN LATERAL (
          SELECT * FROM usage_records ur
           WHERE l.hold_id IS NOT NULL AND ur.account_id = l.account_id AND ur.created_at = l.created_at AND ur.hold_id = l.hold_id
           LIMIT 1
        ) u ON true
        LEFT JOIN model_prices mp ON mp.id = u.price_id
        LEFT JOIN LATERAL (
          SELECT f.pricing FROM model_prices f
           WHERE u.id IS NOT NULL AND u.price_id IS NULL AND f.model_id = u.model AND f.changed_at <= u.created_at
           ORDER BY f.id DESC
           LIMIT 1
        ) f ON true
       WHERE l.account_id = ${accountId} AND l.created_at >= ${from} AND l.created_at < ${to}
       ORDER BY l.id`;
  }

  /** gw_close_lease: the lease's undrawn part back to its account, once; the micros given back. */
  async closeLease(leaseId: string, unusedMicros: number): Promise<number> {
    const [r] = await this.prisma.$queryRaw<Array<{ status: string; released_micros: bigint }>>`SELECT status, released_micros FROM gw_close_lease(${leaseId}, ${unusedMicros}::bigint)`;
    return Number(r.released_micros);
  }
}
