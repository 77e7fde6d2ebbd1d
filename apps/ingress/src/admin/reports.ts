import type { Reconciliation } from '@gateway/contracts';

/** The period of a report: from the beginning, until a second from now, unless given. */
export function periodOf(q: { from?: string; to?: string; account_id?: string }): { from: string; to: string; account_id?: string } {
  return { from: q.from ?? new Date(0).toISOString(), to: q.to ?? new Date(Date.now() + 1000).toISOString(), account_id: q.account_id };
}

const COLUMNS = [
  'account_id',
  'opening_balance_micros',
  'topups_micros',
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

const cell = (v: unknown) => {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One row per account, then a TOTAL row whose ties_out is the whole report's. */
export function reconciliationCsv(r: Reconciliation): string {
  const lines = [COLUMNS.join(',')];
  for (const a of r.accounts) lines.push(COLUMNS.map((c) => cell(a[c])).join(','));
  const sum = (k: (typeof COLUMNS)[number]) => r.accounts.reduce((n, a) => n + Number(a[k]), 0);
  lines.push(['TOTAL', ...COLUMNS.slice(1, -1).map(sum), r.ties_out].join(','));
  return `${lines.join('\n')}\n`;
}
