import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { api, enc } from '../api';
import { formatUsd } from '../money';
import type { AccountView, ListOf } from '../types';
import { Empty, Mono, PageHeader, QueryState, TableWrap, Time } from '../ui';

export function Accounts() {
  const navigate = useNavigate();
  const [filter, setFilter] = useState('');
  const list = useQuery({ queryKey: ['accounts'], queryFn: () => api<ListOf<AccountView>>('/admin/accounts?limit=100') });
  const f = filter.trim().toLowerCase();
  return (
    <div className="page">
      <PageHeader title="Accounts" subtitle="Balances of every account. Open one for its statement." />
      <div className="card toolbar">
        <label className="field grow">
          <span>Filter by name or id</span>
          <input data-testid="accounts-filter" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="acme" />
        </label>
      </div>
      <QueryState query={list}>
        {(d) => {
          const rows = d.data.filter((a) => !f || a.name.toLowerCase().includes(f) || a.id.toLowerCase().includes(f));
          if (d.data.length === 0) return <Empty>No accounts yet.</Empty>;
          if (rows.length === 0) return <Empty>No account matches “{filter}”.</Empty>;
          return (
            <TableWrap testId="accounts-table" label="Accounts">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Account id</th>
                  <th className="num">Balance</th>
                  <th className="num">Held</th>
                  <th className="num">Available</th>
                  <th className="num">Debt</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((a) => (
                  <tr
                    key={a.id}
                    data-testid="account-row"
                    data-account-id={a.id}
                    className="clickable"
                    tabIndex={0}
                    onClick={() => navigate(`/accounts/${enc(a.id)}`)}
                    onKeyDown={(e) => e.key === 'Enter' && navigate(`/accounts/${enc(a.id)}`)}
                  >
                    <td>
                      <strong>{a.name}</strong>
                    </td>
                    <td>
                      <Mono>{a.id}</Mono>
                    </td>
                    <td className="num">{formatUsd(a.balance_micros)}</td>
                    <td className="num">{formatUsd(a.held_micros)}</td>
                    <td className="num">{formatUsd(a.available_micros)}</td>
                    <td className={`num${a.debt_micros > 0 ? ' neg' : ''}`}>{formatUsd(a.debt_micros)}</td>
                    <td>
                      <Time iso={a.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </TableWrap>
          );
        }}
      </QueryState>
    </div>
  );
}
