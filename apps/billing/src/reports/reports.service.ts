import { Injectable } from '@nestjs/common';
import {
  DomainError,
  USAGE_GROUP_KEYS,
  type ExpiredHoldView,
  type Reconciliation,
  type ReconciliationRow,
  type RpcRequest,
  type UsageGrouped,
  type UsageGroupKey,
  type UsageGroupRow,
  type UsageTotals,
} from '@gateway/contracts';
import { ReportRepository } from './report.repository';
import { period } from '../shared/period';

@Injectable()
export class ReportsService {
  constructor(private readonly reports: ReportRepository) {}

  /**
   * Per account: opening + top-ups + adjustments (refunds and adjustments, signed) − charges = closing, from the ledger. It ties out when that holds, when
   * the ledger's charges match what the settled holds say, and (for a period reaching now) when the
   * closing balance and open holds match the account row.
   */
  async reconciliation(req: RpcRequest<'reports.reconciliation'>): Promise<Reconciliation> {
    const [from, to] = period(req);
    const now = await this.reports.now();
    const current = to >= now;
    const accounts: ReconciliationRow[] = (await this.reports.reconciliation(from, to, req.account_id ?? null)).map((r) => {
      const identity = r.opening + r.topups + r.adjustments - r.charges === r.closing;
      const holdsAgree = r.hold_charges === r.charge_entries;
      const rowAgrees = !current || (r.closing === r.balance_now && r.open_holds === r.held_now && r.active_now === r.held_now);
      return {
        account_id: r.account_id,
        opening_balance_micros: Number(r.opening),
        topups_micros: Number(r.topups),
        adjustments_micros: Number(r.adjustments),
        charges_micros: Number(r.charges),
        released_holds_micros: Number(r.released),
        open_holds_micros: Number(r.open_holds),
        closing_balance_micros: Number(r.closing),
        hold_charges_micros: Number(r.hold_charges),
        debt_micros: Number(r.debt_now),
        ties_out: identity && holdsAgree && rowAgrees,
        expired_unsettled_holds: Number(r.expired_unsettled),
        expired_unsettled_micros: Number(r.expired_unsettled_micros),
      };
    });
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      ties_out: accounts.every((a) => a.ties_out),
      expired_unsettled_holds: accounts.reduce((n, a) => n + a.expired_unsettled_holds, 0),
      expired_unsettled_micros: accounts.reduce((n, a) => n + a.expired_unsettled_micros, 0),
      accounts,
    };
  }

  /** Holds that expired in the period and were never settled: each one a call or task nobody was billed for. */
  async expiredHolds(req: RpcRequest<'reports.expiredHolds'>): Promise<ExpiredHoldView[]> {
    const [from, to] = period(req);
    const limit = Math.min(Math.max(req.limit ?? 1000, 1), 10_000);
    return (await this.reports.expiredHolds(from, to, req.account_id ?? null, limit)).map((h) => ({
      id: h.id,
      account_id: h.account_id,
      key_id: h.key_id,
      request_id: h.request_id,
      kind: h.kind,
      model: h.model,
      amount_micros: Number(h.amount_micros),
      created_at: h.created_at.toISOString(),
      expired_at: h.expired_at.toISOString(),
    }));
  }

  /** Usage of [from, to) summed per group of the usage records (the billed calls), with the total over all groups. */
  async usageGrouped(req: RpcRequest<'reports.usageGrouped'>): Promise<UsageGrouped> {
    const [from, to] = period(req);
    const groupBy = req.group_by ?? ['account', 'model'];
    for (const g of groupBy) {
      if (!USAGE_GROUP_KEYS.includes(g)) throw new DomainError('invalid_request', `group_by: ${String(g)} is not one of ${USAGE_GROUP_KEYS.join(', ')}`, 'group_by');
    }
    if (new Set(groupBy).size !== groupBy.length) throw new DomainError('invalid_request', 'group_by: a field is listed twice', 'group_by');
    const rows = await this.reports.usageGrouped(from, to, req.account_id ?? null, groupBy);
    const total: UsageTotals = { requests: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_micros: 0 };
    const data = rows.map((r) => {
      const row = {} as UsageGroupRow;
      for (const g of groupBy) Object.assign(row, groupField(g, r));
      for (const k of Object.keys(total) as Array<keyof UsageTotals>) {
        row[k] = Number(r[k]);
        total[k] += row[k];
      }
      return row;
    });
    return { from: from.toISOString(), to: to.toISOString(), group_by: groupBy, data, total };
  }
}

function groupField(g: UsageGroupKey, r: { day?: string; model?: string; key_id?: string | null; account_id?: string }): Partial<UsageGroupRow> {
  switch (g) {
    case 'day':
      return { day: r.day };
    case 'model':
      return { model: r.model };
    case 'key':
      return { key_id: r.key_id ?? null };
    case 'account':
      return { account_id: r.account_id };
  }
}
