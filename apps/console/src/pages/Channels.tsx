import { useQuery } from '@tanstack/react-query';
import { api } from '../api';
import { formatInt } from '../money';
import type { ChannelHealth, ChannelView, ListOf } from '../types';
import { Badge, Empty, ErrorBox, Loading, Mono, PageHeader, TableWrap, Time } from '../ui';

const STATE_LABEL: Record<ChannelHealth['state'], string> = { closed: 'closed · healthy', open: 'open · failing', half_open: 'half-open · probing' };
const STATE_TONE: Record<ChannelHealth['state'], 'ok' | 'bad' | 'warn'> = { closed: 'ok', open: 'bad', half_open: 'warn' };

function rate(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '—';
  const pct = r <= 1 ? r * 100 : r;
  return `${pct.toFixed(pct > 0 && pct < 1 ? 2 : 1)}%`;
}

export function Channels() {
  const health = useQuery({ queryKey: ['channels-health'], queryFn: () => api<ListOf<ChannelHealth>>('/admin/channels/health'), refetchInterval: 10_000 });
  const config = useQuery({ queryKey: ['channels'], queryFn: () => api<ListOf<ChannelView>>('/admin/channels') });

  const ids = new Set<string>();
  for (const c of config.data?.data ?? []) ids.add(c.id);
  for (const h of health.data?.data ?? []) ids.add(h.channel_id);
  const healthById = new Map((health.data?.data ?? []).map((h) => [h.channel_id, h]));
  const configById = new Map((config.data?.data ?? []).map((c) => [c.id, c]));
  const rows = [...ids].map((id) => ({ id, h: healthById.get(id), c: configById.get(id) }));
  rows.sort((a, b) => {
    const order = { open: 0, half_open: 1, closed: 2 } as const;
    return (order[a.h?.state ?? 'closed'] ?? 3) - (order[b.h?.state ?? 'closed'] ?? 3) || (a.c?.name ?? a.h?.name ?? '').localeCompare(b.c?.name ?? b.h?.name ?? '');
  });
  const openCount = rows.filter((r) => r.h && r.h.state !== 'closed').length;

  return (
    <div className="page">
      <PageHeader
        title="Channels"
        subtitle={
          health.data ? (
            <>
              Circuit breaker state per upstream channel, refreshed every 10 s.{' '}
              {openCount ? <Badge tone="bad">{openCount} not closed</Badge> : <Badge tone="ok">all closed</Badge>}
            </>
          ) : (
            'Circuit breaker state and configuration of the upstream channels.'
          )
        }
      />
      {health.isError ? <ErrorBox error={health.error} title="Channel health" /> : null}
      {config.isError ? <ErrorBox error={config.error} title="Channel configuration" /> : null}
      {health.isPending || config.isPending ? (
        <Loading />
      ) : health.isError && config.isError ? null : rows.length === 0 ? (
        <Empty>No channels configured.</Empty>
      ) : (
        <TableWrap testId="channels-table" label="Channels">
          <thead>
            <tr>
              <th>Channel</th>
              <th>Provider</th>
              <th>Circuit</th>
              <th className="num" title="consecutive failures">Fails</th>
              <th>Open until</th>
              <th className="num" title="errors / requests in the last 15 minutes">Err / req 15m</th>
              <th className="num" title="error rate in the last 15 minutes">Err rate</th>
              <th>API key</th>
              <th>Models</th>
              <th className="num" title="priority · weight">Prio · wt</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ id, h, c }) => {
              const enabled = c?.enabled ?? h?.enabled;
              const models = c ? Object.entries(c.models) : [];
              return (
                <tr key={id} data-testid="channel-row" data-channel-id={id} data-state={h?.state}>
                  <td>
                    <strong>{c?.name ?? h?.name}</strong>
                    <div>
                      <Mono>{id}</Mono>
                    </div>
                    {c ? <div className="muted small">{c.base_url}</div> : null}
                  </td>
                  <td>{c?.provider ?? h?.provider}</td>
                  <td>
                    {h ? (
                      <span data-testid="channel-state" data-state={h.state}>
                        <Badge tone={STATE_TONE[h.state] ?? 'neutral'}>{STATE_LABEL[h.state] ?? h.state}</Badge>
                      </span>
                    ) : (
                      <span className="muted">unknown</span>
                    )}
                    {enabled === false ? (
                      <div>
                        <Badge tone="neutral">disabled</Badge>
                      </div>
                    ) : null}
                  </td>
                  <td className="num">{h ? formatInt(h.consecutive_failures) : '—'}</td>
                  <td>{h?.open_until ? <Time iso={h.open_until} /> : <span className="muted">—</span>}</td>
                  <td className="num">{h ? `${formatInt(h.errors_15m)} / ${formatInt(h.requests_15m)}` : '—'}</td>
                  <td className={`num${h && h.error_rate_15m > 0.05 ? ' neg' : ''}`}>{h ? rate(h.error_rate_15m) : '—'}</td>
                  <td>{c ? <Mono>{c.api_key || '(none)'}</Mono> : '—'}</td>
                  <td className="small wrap">
                    {models.length
                      ? models.map(([pub, up]) => (
                          <div key={pub}>
                            {pub}
                            {up !== pub ? <span className="muted"> → {up}</span> : null}
                          </div>
                        ))
                      : '—'}
                  </td>
                  <td className="num">{c ? `${c.priority} · ${c.weight}` : '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </TableWrap>
      )}
    </div>
  );
}
