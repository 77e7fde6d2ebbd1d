import { useQuery } from '@tanstack/react-query';
import { Fragment, useState } from 'react';
import { api, qs } from '../api';
import { formatInt, formatSignedUsd, formatUsd } from '../money';
import type { Statement, StatementEntry } from '../types';
import { Badge, CsvButton, Empty, Mono, PageHeader, PeriodPicker, QueryState, StatCard, TableWrap, Time, makePeriod, periodLabel, pricingSummary, type Period } from '../ui';

const KIND_TONE: Record<string, 'ok' | 'warn' | 'bad' | 'neutral' | 'info'> = {
  topup: 'ok',
  refund: 'info',
  adjustment: 'warn',
  charge: 'neutral',
  debt_payment: 'bad',
};

export function ClientStatement() {
  return (
    <div className="page">
      <PageHeader title="Statement" subtitle="Every change to your balance, oldest first, with the running balance." />
      <StatementView base="/v1/account/statement" filePrefix="statement" />
    </div>
  );
}

/** A statement for a period, its table and its CSV: the client's own, or an account's for finance. */
export function StatementView({ base, filePrefix }: { base: string; filePrefix: string }) {
  const [period, setPeriod] = useState<Period>(() => makePeriod('30d'));
  const path = `${base}${qs({ from: period.from, to: period.to })}`;
  const st = useQuery({ queryKey: ['statement', base, period.from, period.to], queryFn: () => api<Statement>(path) });
  return (
    <>
      <div className="card toolbar">
        <PeriodPicker value={period} onChange={setPeriod} />
        <CsvButton path={path} filename={`${filePrefix}-${periodLabel(period)}.csv`} testId="download-statement-csv" />
      </div>
      <QueryState query={st}>{(s) => <StatementTable s={s} />}</QueryState>
    </>
  );
}

function StatementTable({ s }: { s: Statement }) {
  const [open, setOpen] = useState<number | null>(null);
  return (
    <>
      <div className="cards">
        <StatCard label="Opening balance" value={formatUsd(s.opening_balance_micros)} testId="opening-balance" note={<Time iso={s.from} />} />
        <StatCard label="Closing balance" value={formatUsd(s.closing_balance_micros)} testId="closing-balance" note={<Time iso={s.to} />} />
        <StatCard label="Entries" value={formatInt(s.entries.length)} />
      </div>
      {s.entries.length === 0 ? <Empty>No balance changes in this period.</Empty> : null}
      {(
        <TableWrap testId="statement-table" label="Statement">
          <thead>
            <tr>
              <th>Date</th>
              <th>Kind</th>
              <th className="num">Amount</th>
              <th className="num">Running balance</th>
              <th>Reference</th>
              <th>Reason</th>
              <th>Actor</th>
              <th>Request · model</th>
              <th>Unit prices</th>
            </tr>
          </thead>
          <tbody>
            <tr className="row-dim">
              <td colSpan={3}>Opening balance</td>
              <td className="num">{formatUsd(s.opening_balance_micros)}</td>
              <td colSpan={5} />
            </tr>
            {s.entries.map((e) => (
              <Fragment key={e.id}>
                <tr data-testid="statement-row" data-entry-id={e.id} data-kind={e.kind}>
                  <td>
                    <Time iso={e.created_at} />
                  </td>
                  <td>
                    <Badge tone={KIND_TONE[e.kind] ?? 'neutral'}>{e.kind}</Badge>
                  </td>
                  <td className={`num ${e.amount_micros < 0 ? 'neg' : 'pos'}`}>{formatSignedUsd(e.amount_micros)}</td>
                  <td className="num" data-testid="running-balance">
                    {formatUsd(e.running_balance_micros)}
                  </td>
                  <td>{e.reference ? <Mono>{e.reference}</Mono> : <span className="muted">—</span>}</td>
                  <td className="wrap">{e.reason ?? <span className="muted">—</span>}</td>
                  <td>{e.actor ?? <span className="muted">—</span>}</td>
                  <td>
                    {e.request_id ? <Mono>{e.request_id}</Mono> : null}
                    {e.model ? <div className="small">{e.model}</div> : null}
                    {!e.request_id && !e.model ? <span className="muted">—</span> : null}
                  </td>
                  <td className="small wrap">
                    {e.usage ? (
                      <button type="button" className="link-button" onClick={() => setOpen(open === e.id ? null : e.id)} aria-expanded={open === e.id}>
                        {pricingSummary(e.usage.unit_prices as Record<string, unknown> | null | undefined, formatUsd)}
                      </button>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
                {open === e.id && e.usage ? (
                  <tr className="subrow">
                    <td colSpan={9}>
                      <UsageLine e={e} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th colSpan={3}>Closing balance</th>
              <th className="num">{formatUsd(s.closing_balance_micros)}</th>
              <th colSpan={5} />
            </tr>
          </tfoot>
        </TableWrap>
      )}
    </>
  );
}

function UsageLine({ e }: { e: StatementEntry }) {
  const u = e.usage!;
  const parts: string[] = [];
  const add = (label: string, v: unknown) => typeof v === 'number' && v > 0 && parts.push(`${formatInt(v)} ${label}`);
  add('input', u.input_tokens);
  add('cached input', u.cached_input_tokens);
  add('cache write 5m', u.cache_write_tokens);
  add('cache write 1h', u.cache_write_1h_tokens);
  add('output', u.output_tokens);
  add('reasoning', u.reasoning_tokens);
  add('web searches', u.web_searches);
  return (
    <div className="small">
      <strong>Usage:</strong> {parts.length ? parts.join(' · ') : 'none reported'}
      {u.price_id ? (
        <>
          {' '}
          · price <Mono>{String(u.price_id)}</Mono>
        </>
      ) : null}
    </div>
  );
}
