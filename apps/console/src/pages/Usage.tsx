import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, qs } from '../api';
import { formatInt, formatUsd } from '../money';
import type { UsageGroupRow, UsageReport } from '../types';
import { CsvButton, Empty, Mono, PageHeader, PeriodPicker, QueryState, TableWrap, makePeriod, periodLabel, type Period } from '../ui';

const GROUPS = [
  { id: 'account', field: 'account_id', label: 'Account' },
  { id: 'key', field: 'key_id', label: 'Key' },
  { id: 'model', field: 'model', label: 'Model' },
  { id: 'day', field: 'day', label: 'Day (UTC)' },
] as const;
type GroupId = (typeof GROUPS)[number]['id'];

const METRICS: Array<[keyof UsageGroupRow, string]> = [
  ['requests', 'Requests'],
  ['input_tokens', 'Input tokens'],
  ['cached_input_tokens', 'Cached input'],
  ['output_tokens', 'Output tokens'],
  ['reasoning_tokens', 'Reasoning'],
];

export function AdminUsage() {
  const [groups, setGroups] = useState<Set<GroupId>>(new Set(['account', 'model']));
  const [period, setPeriod] = useState<Period>(() => makePeriod('30d'));
  const [account, setAccount] = useState('');
  const order = GROUPS.filter((g) => groups.has(g.id));
  const groupBy = order.map((g) => g.id).join(',');
  const path = `/admin/usage${qs({ from: period.from, to: period.to, group_by: groupBy, account_id: account.trim() })}`;
  const q = useQuery({ queryKey: ['admin-usage', path], queryFn: () => api<UsageReport>(path), placeholderData: (prev) => prev });

  return (
    <div className="page">
      <PageHeader title="Usage" subtitle="Billed calls (usage records) summed by the groups you pick." />
      <div className="card toolbar">
        <fieldset className="checks">
          <legend>Group by</legend>
          {GROUPS.map((g) => (
            <label key={g.id} className="check">
              <input
                type="checkbox"
                data-testid={`group-${g.id}`}
                checked={groups.has(g.id)}
                onChange={(e) =>
                  setGroups((s) => {
                    const n = new Set(s);
                    if (e.target.checked) n.add(g.id);
                    else n.delete(g.id);
                    return n;
                  })
                }
              />
              {g.label}
            </label>
          ))}
        </fieldset>
        <PeriodPicker value={period} onChange={setPeriod} />
        <label className="field">
          <span>Account id</span>
          <input data-testid="usage-account" value={account} onChange={(e) => setAccount(e.target.value)} placeholder="all" />
        </label>
        <CsvButton path={path} filename={`usage-${groupBy || 'total'}-${periodLabel(period)}.csv`} testId="download-usage-csv" />
      </div>
      <QueryState query={q}>
        {(r) => {
          // the columns the server grouped by (older gateways answer without group_by: what was asked)
          const cols = GROUPS.filter((g) => (r.group_by ? r.group_by.includes(g.id) : groups.has(g.id)));
          const total = r.total ?? {
            requests: r.data.reduce((n, x) => n + x.requests, 0),
            input_tokens: r.data.reduce((n, x) => n + x.input_tokens, 0),
            cached_input_tokens: r.data.reduce((n, x) => n + (x.cached_input_tokens ?? 0), 0),
            output_tokens: r.data.reduce((n, x) => n + x.output_tokens, 0),
            reasoning_tokens: r.data.reduce((n, x) => n + (x.reasoning_tokens ?? 0), 0),
            cost_micros: r.data.reduce((n, x) => n + x.cost_micros, 0),
          };
          return (
            <>
              {r.data.length === 0 ? <Empty>No billed usage in this period.</Empty> : null}
              <TableWrap testId="usage-table" label="Usage">
                <thead>
                  <tr>
                    {cols.map((g) => (
                      <th key={g.id}>{g.label}</th>
                    ))}
                    {METRICS.map(([k, label]) => (
                      <th key={k} className="num">
                        {label}
                      </th>
                    ))}
                    <th className="num">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {r.data.map((row, i) => (
                    <tr key={i} data-testid="usage-row">
                      {cols.map((g) => {
                        const v = row[g.field as keyof UsageGroupRow];
                        return <td key={g.id}>{v === null || v === undefined ? <span className="muted">—</span> : g.id === 'model' || g.id === 'day' ? String(v) : <Mono>{String(v)}</Mono>}</td>;
                      })}
                      {METRICS.map(([k]) => (
                        <td key={k} className="num">
                          {formatInt((row[k] as number | undefined) ?? 0)}
                        </td>
                      ))}
                      <td className="num">{formatUsd(row.cost_micros)}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr data-testid="usage-total">
                    {cols.length ? <th colSpan={cols.length}>Total</th> : null}
                    {METRICS.map(([k]) => (
                      <th key={k} className="num">
                        {formatInt((total as unknown as Record<string, number>)[k] ?? 0)}
                      </th>
                    ))}
                    <th className="num" data-testid="usage-total-cost">
                      {formatUsd(total.cost_micros)}
                    </th>
                  </tr>
                </tfoot>
              </TableWrap>
            </>
          );
        }}
      </QueryState>
    </div>
  );
}
