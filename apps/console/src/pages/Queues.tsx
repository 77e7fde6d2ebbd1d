import { useQuery } from '@tanstack/react-query';
import { api } from '../api';
import { formatInt } from '../money';
import type { ListOf, QueueCounts } from '../types';
import { Empty, PageHeader, QueryState, TableWrap } from '../ui';

const COLS = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

export function Queues() {
  const q = useQuery({ queryKey: ['queues'], queryFn: () => api<ListOf<QueueCounts>>('/admin/queues'), refetchInterval: 5_000 });
  return (
    <div className="page">
      <PageHeader title="Queues" subtitle="The async task queues' jobs by state, refreshed every 5 s.">
        <a className="btn btn-secondary" href="/admin/queues" target="_blank" rel="noopener noreferrer" data-testid="queues-ui-link">
          Open the queue dashboard ↗
        </a>
      </PageHeader>
      <p className="muted small">The dashboard asks for the admin token as its password (basic auth).</p>
      <QueryState query={q}>
        {(d) =>
          d.data.length === 0 ? (
            <Empty>No queues.</Empty>
          ) : (
            <TableWrap testId="queues-table" label="Queues">
              <thead>
                <tr>
                  <th>Queue</th>
                  {COLS.map((c) => (
                    <th key={c} className="num">
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {d.data.map((r) => (
                  <tr key={r.queue} data-testid="queue-row" data-queue={r.queue}>
                    <td>
                      <strong>{r.queue}</strong>
                    </td>
                    {COLS.map((c) => (
                      <td key={c} className={`num${c === 'failed' && r.failed > 0 ? ' neg' : ''}`}>
                        {formatInt(r[c])}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th>Total</th>
                  {COLS.map((c) => (
                    <th key={c} className="num">
                      {formatInt(d.data.reduce((n, r) => n + (Number(r[c]) || 0), 0))}
                    </th>
                  ))}
                </tr>
              </tfoot>
            </TableWrap>
          )
        }
      </QueryState>
    </div>
  );
}
