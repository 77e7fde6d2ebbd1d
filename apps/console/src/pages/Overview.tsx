import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useMemo, useState } from 'react';
import { api, qs } from '../api';
import { formatInt, formatUsd } from '../money';
import type { ClientAccount, UsageReport } from '../types';
import { BalanceCards, Empty, ErrorBox, Loading, PageHeader, QueryState, TableWrap } from '../ui';

const SpendChart = lazy(() => import('../charts'));
const DAY = 86_400_000;

export function Overview() {
  const account = useQuery({ queryKey: ['account'], queryFn: () => api<ClientAccount>('/v1/account') });
  // the last 30 days, fixed when the page opens so the query key does not change on every render
  const [period] = useState(() => {
    const to = new Date();
    return { from: new Date(to.getTime() - 30 * DAY).toISOString(), to: to.toISOString() };
  });
  const usage = useQuery({
    queryKey: ['account-usage', period],
    queryFn: () => api<UsageReport>(`/v1/account/usage${qs({ from: period.from, to: period.to, group_by: 'day,model' })}`),
  });

  return (
    <div className="page">
      <PageHeader title="Overview" subtitle={account.data ? <>Account <strong>{account.data.name}</strong> · <code>{account.data.id}</code></> : null} />
      <QueryState query={account}>
        {(a) => <BalanceCards account={a} />}
      </QueryState>
      <UsageSection usage={usage} from={period.from} />
    </div>
  );
}

function UsageSection({ usage, from }: { usage: ReturnType<typeof useQuery<UsageReport>>; from: string }) {
  const rows = usage.data?.data ?? [];
  const byDay = useMemo(() => {
    const m = new Map<string, number>();
    // every day of the period, spend or not
    const start = Date.parse(from.slice(0, 10));
    for (let t = start; t <= Date.now(); t += DAY) m.set(new Date(t).toISOString().slice(0, 10), 0);
    for (const r of rows) if (r.day) m.set(r.day, (m.get(r.day) ?? 0) + r.cost_micros);
    return [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, cost_micros]) => ({ label, cost_micros }));
  }, [rows, from]);
  const byModel = useMemo(() => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(r.model ?? '(none)', (m.get(r.model ?? '(none)') ?? 0) + r.cost_micros);
    return [...m.entries()].sort((a, b) => b[1] - a[1]).map(([label, cost_micros]) => ({ label, cost_micros }));
  }, [rows]);
  const total = usage.data?.total ?? {
    requests: rows.reduce((n, r) => n + r.requests, 0),
    input_tokens: rows.reduce((n, r) => n + r.input_tokens, 0),
    cached_input_tokens: rows.reduce((n, r) => n + (r.cached_input_tokens ?? 0), 0),
    output_tokens: rows.reduce((n, r) => n + r.output_tokens, 0),
    reasoning_tokens: rows.reduce((n, r) => n + (r.reasoning_tokens ?? 0), 0),
    cost_micros: rows.reduce((n, r) => n + r.cost_micros, 0),
  };
  const sorted = [...rows].sort((a, b) => (b.day ?? '').localeCompare(a.day ?? '') || b.cost_micros - a.cost_micros);

  return (
    <>
      <h2>Spend, last 30 days {usage.data ? <span className="muted">· {formatUsd(total.cost_micros)}</span> : null}</h2>
      <div className="chart-grid">
        <section className="card chart" data-testid="spend-by-day">
          <h3>Spend per day</h3>
          {usage.isPending ? <Loading /> : usage.isError ? <ErrorBox error={usage.error} /> : (
            <Suspense fallback={<Loading label="Loading chart…" />}>
              <SpendChart data={byDay} />
            </Suspense>
          )}
        </section>
        <section className="card chart" data-testid="spend-by-model">
          <h3>Spend per model</h3>
          {usage.isPending ? <Loading /> : usage.isError ? <ErrorBox error={usage.error} /> : byModel.length === 0 ? (
            <p className="muted chart-empty">No spend in this period.</p>
          ) : (
            <Suspense fallback={<Loading label="Loading chart…" />}>
              <SpendChart data={byModel} layout="bars" color="#7c3aed" />
            </Suspense>
          )}
        </section>
      </div>
      <h2>Usage by day and model</h2>
      {usage.isPending ? null : usage.isError ? null : rows.length === 0 ? (
        <Empty>No usage in the last 30 days yet. Calls you make with your keys show up here.</Empty>
      ) : null}
      {usage.data ? (
        <TableWrap testId="usage-table" label="Usage by day and model">
          <thead>
            <tr>
              <th>Day (UTC)</th>
              <th>Model</th>
              <th className="num">Requests</th>
              <th className="num">Input tokens</th>
              <th className="num">Cached input</th>
              <th className="num">Output tokens</th>
              <th className="num">Reasoning</th>
              <th className="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((r, i) => (
              <tr key={`${r.day}-${r.model}-${i}`} data-testid="usage-row">
                <td className="nowrap">{r.day ?? '—'}</td>
                <td>{r.model ?? '—'}</td>
                <td className="num">{formatInt(r.requests)}</td>
                <td className="num">{formatInt(r.input_tokens)}</td>
                <td className="num">{formatInt(r.cached_input_tokens ?? 0)}</td>
                <td className="num">{formatInt(r.output_tokens)}</td>
                <td className="num">{formatInt(r.reasoning_tokens ?? 0)}</td>
                <td className="num">{formatUsd(r.cost_micros)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th colSpan={2}>Total</th>
              <th className="num">{formatInt(total.requests)}</th>
              <th className="num">{formatInt(total.input_tokens)}</th>
              <th className="num">{formatInt(total.cached_input_tokens)}</th>
              <th className="num">{formatInt(total.output_tokens)}</th>
              <th className="num">{formatInt(total.reasoning_tokens)}</th>
              <th className="num" data-testid="usage-total-cost">{formatUsd(total.cost_micros)}</th>
            </tr>
          </tfoot>
        </TableWrap>
      ) : null}
    </>
  );
}
