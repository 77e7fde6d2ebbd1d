import type { Reconciliation, Statement, UsageGrouped, UsageGroupKey, UsageGroupRow } from '@gateway/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A report route answers CSV for `?format=csv` or `Accept: text/csv` (the admin API and /v1/account alike). */
export function wantsCsv(req: FastifyRequest, format?: string): boolean {
  return format === 'csv' || String(req.headers.accept ?? '').includes('text/csv');
}

/** Marks the reply as a CSV download named `filename` and returns the body to send. */
export function sendCsv(reply: FastifyReply, filename: string, body: string): string {
  void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`);
  return body;
}

/** The period of a report: from the beginning, until a second from now, unless given. */
export function periodOf(q: { from?: string; to?: string; account_id?: string }): { from: string; to: string; account_id?: string } {
  return { from: q.from ?? new Date(0).toISOString(), to: q.to ?? new Date(Date.now() + 1000).toISOString(), account_id: q.account_id };
}

const COLUMNS = [
  'account_id',
  'opening_balance_micros',
  'topups_micros',
  'adjustments_micros',
  'charges_micros',
  'released_holds_micros',
  'open_holds_micros',
  'closing_balance_micros',
  'hold_charges_micros',
  'debt_micros',
  'expired_unsettled_holds',
  'expired_unsettled_micros',
  // last: the TOTAL row ends in the whole report's verdict
  'ties_out',
] as const;

/** One CSV cell: null and undefined empty, quoted when it holds a quote, a comma or a line break. */
const cell = (v: unknown) => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * A cell of free text someone typed (a reference, a reason, an actor): one that a spreadsheet would run as a
 * formula (=, +, -, @, tab, CR first) is prefixed with a quote, so opening the file runs nothing.
 */
const textCell = (v: string | null | undefined) => cell(typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

const csv = (lines: string[]) => `${lines.join('\n')}\n`;

/** One row per account, then a TOTAL row whose ties_out is the whole report's. */
export function reconciliationCsv(r: Reconciliation): string {
  const lines = [COLUMNS.join(',')];
  for (const a of r.accounts) lines.push(COLUMNS.map((c) => cell(a[c])).join(','));
  const sum = (k: (typeof COLUMNS)[number]) => r.accounts.reduce((n, a) => n + Number(a[k]), 0);
  lines.push(['TOTAL', ...COLUMNS.slice(1, -1).map(sum), r.ties_out].join(','));
  return csv(lines);
}

/** The row field of each usage group. */
export const USAGE_GROUP_FIELD: Record<UsageGroupKey, 'account_id' | 'key_id' | 'model' | 'day'> = { account: 'account_id', key: 'key_id', model: 'model', day: 'day' };
const USAGE_SUMS = ['requests', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens', 'cost_micros'] as const;

/**
 * A usage report (`reports.usageGrouped`, the answer of /admin/usage and /v1/account/usage) as CSV: the
 * group fields in the order of group_by, then the sums; one line per group, no total line.
 */
export function usageGroupedCsv(result: Pick<UsageGrouped, 'group_by' | 'data'>): string {
  const groups = result.group_by.map((g) => USAGE_GROUP_FIELD[g]);
  const lines = [[...groups, ...USAGE_SUMS].join(',')];
  for (const row of result.data) {
    lines.push([...groups.map((f) => textCell((row as UsageGroupRow)[f] ?? null)), ...USAGE_SUMS.map((f) => cell(row[f]))].join(','));
  }
  return csv(lines);
}

/** The statement's columns: an entry's fields with its usage flattened; unit_prices as a JSON object. */
export const STATEMENT_COLUMNS = [
  'id',
  'created_at',
  'kind',
  'amount_micros',
  'running_balance_micros',
  'reference',
  'reason',
  'actor',
  'hold_id',
  'request_id',
  'model',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'web_searches',
  'price_id',
  'unit_prices',
] as const;

/**
 * A statement (`accounts.statement`) as CSV: one line per ledger entry in order, with its running balance;
 * a charge's usage and unit prices on its line, empty for other entries. Opening and closing balances are
 * the first entry's running balance less its amount, and the last entry's running balance.
 */
export function statementCsv(statement: Pick<Statement, 'entries'>): string {
  const lines = [STATEMENT_COLUMNS.join(',')];
  for (const e of statement.entries) {
    const u = e.usage;
    lines.push(
      [
        cell(e.id),
        cell(e.created_at),
        cell(e.kind),
        cell(e.amount_micros),
        cell(e.running_balance_micros),
        textCell(e.reference),
        textCell(e.reason),
        textCell(e.actor),
        cell(e.hold_id),
        cell(e.request_id),
        textCell(e.model),
        cell(u?.input_tokens),
        cell(u?.cached_input_tokens),
        cell(u?.output_tokens),
        cell(u?.reasoning_tokens),
        cell(u?.cache_write_tokens),
        cell(u?.cache_write_1h_tokens),
        cell(u?.web_searches),
        cell(u?.price_id),
        cell(u ? JSON.stringify(u.unit_prices) : null),
      ].join(','),
    );
  }
  return csv(lines);
}
