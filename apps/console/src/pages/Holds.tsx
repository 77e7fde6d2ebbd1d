import { useQuery } from '@tanstack/react-query';
import { Fragment, useState } from 'react';
import { api, qs } from '../api';
import { formatUsd } from '../money';
import type { HoldView, ListOf } from '../types';
import { Badge, Empty, Mono, PageHeader, QueryState, TableWrap, Time } from '../ui';

const STATE_TONE: Record<string, 'ok' | 'bad' | 'warn' | 'info' | 'neutral'> = { active: 'info', settled: 'ok', released: 'neutral', expired: 'warn' };

export function Holds() {
  const [state, setState] = useState('');
  const [account, setAccount] = useState('');
  const [limit, setLimit] = useState(100);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const acct = account.trim();
  const q = useQuery({
    queryKey: ['holds', state, acct, limit],
    queryFn: () => api<ListOf<HoldView>>(`/admin/holds${qs({ state, account_id: acct, limit })}`),
    placeholderData: (prev) => prev,
  });
  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  return (
    <div className="page">
      <PageHeader title="Holds" subtitle="Money reserved for calls and tasks, and how each hold was resolved." />
      <div className="card toolbar">
        <label className="field">
          <span>State</span>
          <select data-testid="holds-state" value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">any</option>
            <option value="active">active</option>
            <option value="settled">settled</option>
            <option value="released">released</option>
            <option value="expired">expired</option>
          </select>
        </label>
        <label className="field grow">
          <span>Account id</span>
          <input data-testid="holds-account" value={account} onChange={(e) => setAccount(e.target.value)} placeholder="any" />
        </label>
        <label className="field">
          <span>Show</span>
          <select value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
            {[50, 100, 500, 1000].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      <QueryState query={q}>
        {(d) =>
          d.data.length === 0 ? (
            <Empty>{state ? `No ${state} holds.` : 'No holds yet.'}</Empty>
          ) : (
            <TableWrap testId="holds-table" label="Holds">
              <thead>
                <tr>
                  <th />
                  <th>Created</th>
                  <th>Hold · request</th>
                  <th>State</th>
                  <th>Kind · model · account</th>
                  <th className="num">Held</th>
                  <th className="num">Settled</th>
                  <th className="num" title="charged beyond the hold / owed by the account">Overage · debt</th>
                  <th>Resolved / expires</th>
                </tr>
              </thead>
              <tbody>
                {d.data.map((h) => (
                  <Fragment key={h.id}>
                    <tr data-testid="hold-row" data-hold-id={h.id} data-state={h.state}>
                      <td>
                        <button type="button" className="btn btn-ghost btn-small" data-testid="hold-expand" aria-expanded={open.has(h.id)} onClick={() => toggle(h.id)} title="State history">
                          {open.has(h.id) ? '▾' : '▸'} {h.history?.length ?? 0}
                        </button>
                      </td>
                      <td>
                        <Time iso={h.created_at} />
                      </td>
                      <td>
                        <Mono>{h.id}</Mono>
                        {h.request_id ? (
                          <div className="small">
                            <Mono>{h.request_id}</Mono>
                          </div>
                        ) : null}
                      </td>
                      <td>
                        <Badge tone={STATE_TONE[h.state] ?? 'neutral'}>{h.state}</Badge>
                      </td>
                      <td>
                        {h.kind}
                        {h.model ? ` · ${h.model}` : ''}
                        <div className="small">
                          <Mono>{h.account_id}</Mono>
                        </div>
                      </td>
                      <td className="num">{formatUsd(h.amount_micros)}</td>
                      <td className="num">{formatUsd(h.settled_micros)}</td>
                      <td className={`num${h.debt_micros > 0 ? ' neg' : ''}`}>
                        {formatUsd(h.overage_micros)} · {formatUsd(h.debt_micros)}
                      </td>
                      <td>
                        {h.resolved_at ? (
                          <Time iso={h.resolved_at} />
                        ) : (
                          <span className="muted">
                            expires <Time iso={h.expires_at} />
                          </span>
                        )}
                      </td>
                    </tr>
                    {open.has(h.id) ? (
                      <tr className="subrow" data-testid="hold-history">
                        <td />
                        <td colSpan={8}>
                          {h.history?.length ? (
                            <ol className="history">
                              {h.history.map((s, i) => (
                                <li key={i}>
                                  <Time iso={s.at} /> <Badge tone={STATE_TONE[s.state] ?? 'neutral'}>{s.state}</Badge> {formatUsd(s.amount_micros)}
                                  {s.reason ? <span className="muted"> · {s.reason}</span> : null}
                                </li>
                              ))}
                            </ol>
                          ) : (
                            <span className="muted">No state history recorded.</span>
                          )}
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                ))}
              </tbody>
            </TableWrap>
          )
        }
      </QueryState>
    </div>
  );
}
