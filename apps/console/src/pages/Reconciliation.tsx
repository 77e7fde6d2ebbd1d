import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { api, enc, qs } from '../api';
import { formatInt, formatUsd } from '../money';
import type { Reconciliation as Report, ReconciliationRow } from '../types';
import { CsvButton, Empty, Mono, PageHeader, PeriodPicker, QueryState, TableWrap, Time, makePeriod, periodLabel, type Period } from '../ui';

const MONEY: Array<[keyof ReconciliationRow, string]> = [
  ['opening_balance_micros', 'Opening'],
  ['topups_micros', 'Top-ups'],
  ['adjustments_micros', 'Refunds & adjustments'],
  ['charges_micros', 'Charges'],
  ['closing_balance_micros', 'Closing'],
  ['hold_charges_micros', 'Charged by holds'],
  ['released_holds_micros', 'Released holds'],
  ['open_holds_micros', 'Open holds'],
  ['debt_micros', 'Debt'],
];

function TieOut({ ok }: { ok: boolean }) {
  return ok ? <span className="tie tie-ok">✓ Ties out</span> : <span className="tie tie-bad">✗ Does NOT tie out</span>;
}

export function Reconciliation() {
  const [period, setPeriod] = useState<Period>(() => makePeriod('all'));
  const path = `/admin/reconciliation${qs({ from: period.from, to: period.to })}`;
  const q = useQuery({ queryKey: ['reconciliation', period.from, period.to], queryFn: () => api<Report>(path) });
  return (
    <div className="page">
      <PageHeader title="Reconciliation" subtitle="Per account: opening + top-ups + refunds & adjustments − charges = closing, and the ledger agrees with the holds." />
      <div className="card toolbar">
        <PeriodPicker value={period} onChange={setPeriod} />
        <CsvButton path={path} filename={`reconciliation-${periodLabel(period)}.csv`} testId="download-reconciliation-csv" />
      </div>
      <QueryState query={q}>
        {(r) => {
          const cols = MONEY.filter(([k]) => k !== 'adjustments_micros' || r.accounts.some((a) => a.adjustments_micros !== undefined));
          const failing = r.accounts.filter((a) => !a.ties_out).length;
          return (
            <>
              <div className={`card tie-out ${r.ties_out ? 'tie-out-ok' : 'tie-out-bad'}`} data-testid="tie-out" role="status">
                <div className="tie-out-main">
                  <TieOut ok={r.ties_out} />
                  <span>
                    {r.ties_out ? 'The books tie out' : `The books do not tie out: ${failing} of ${r.accounts.length} accounts`} for {Date.parse(r.from) <= 0 ? 'the beginning' : <Time iso={r.from} utc />} → <Time iso={r.to} utc />.
                  </span>
                </div>
                <div className="muted small">
                  {formatInt(r.accounts.length)} accounts · expired unsettled holds: {formatInt(r.expired_unsettled_holds)} ({formatUsd(r.expired_unsettled_micros)}), calls that could not be billed
                </div>
              </div>
              {r.accounts.length === 0 ? (
                <Empty>No accounts had activity in this period.</Empty>
              ) : (
                <TableWrap testId="reconciliation-table" label="Reconciliation by account">
                  <thead>
                    <tr>
                      <th>Account</th>
                      <th>Status</th>
                      {cols.map(([k, label]) => (
                        <th key={k} className="num">
                          {label}
                        </th>
                      ))}
                      <th className="num">Expired unsettled</th>
                    </tr>
                  </thead>
                  <tbody>
                    {[...r.accounts]
                      .sort((a, b) => Number(a.ties_out) - Number(b.ties_out))
                      .map((a) => (
                        <tr key={a.account_id} data-testid="reconciliation-row" data-account-id={a.account_id} className={a.ties_out ? undefined : 'row-bad'}>
                          <td>
                            <Link to={`/accounts/${enc(a.account_id)}`}>
                              <Mono>{a.account_id}</Mono>
                            </Link>
                          </td>
                          <td data-testid="account-tie-out">
                            <TieOut ok={a.ties_out} />
                          </td>
                          {cols.map(([k]) => (
                            <td key={k} className="num">
                              {a[k] === undefined ? '—' : formatUsd(a[k] as number)}
                            </td>
                          ))}
                          <td className="num">{formatInt(a.expired_unsettled_holds)} · {formatUsd(a.expired_unsettled_micros)}</td>
                        </tr>
                      ))}
                  </tbody>
                  <tfoot>
                    <tr>
                      <th>Total</th>
                      <th>
                        <TieOut ok={r.ties_out} />
                      </th>
                      {cols.map(([k]) => (
                        <th key={k} className="num">
                          {formatUsd(r.accounts.reduce((n, a) => n + (Number(a[k]) || 0), 0))}
                        </th>
                      ))}
                      <th className="num">{formatInt(r.expired_unsettled_holds)} · {formatUsd(r.expired_unsettled_micros)}</th>
                    </tr>
                  </tfoot>
                </TableWrap>
              )}
            </>
          );
        }}
      </QueryState>
    </div>
  );
}
