import { useQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, enc, qs } from '../api';
import { formatInt, formatUsd } from '../money';
import type { RequestLogEntry, RequestLookup, RequestPage, StatementUsage } from '../types';
import { Badge, Empty, ErrorBox, Loading, messageOf, Mono, PageHeader, QueryState, TableWrap, Time, pricingSummary, statusTone } from '../ui';

const STATUS_SUGGESTIONS = ['ok', 'error', '200', '400', '401', '402', '403', '404', '429', '500', '502', '503', '504'];

function useDebounced<T>(value: T, ms = 300): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** The request log: the client's own (`/v1/account/requests`) or, for ops, every account's (`/admin/requests`). */
export function Requests({ scope }: { scope: 'client' | 'admin' }) {
  const base = scope === 'client' ? '/v1/account/requests' : '/admin/requests';
  const pagePath = scope === 'client' ? '/requests' : '/lookup';
  const { requestId } = useParams();
  const navigate = useNavigate();
  const [model, setModel] = useState('');
  const [status, setStatus] = useState('');
  const [accountId, setAccountId] = useState('');
  const [keyId, setKeyId] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const [lookupInput, setLookupInput] = useState(requestId ?? '');
  const filters = useDebounced({ model: model.trim(), status: status.trim(), account_id: accountId.trim(), key_id: keyId.trim() });
  const before = cursors[cursors.length - 1];

  useEffect(() => setCursors([]), [filters.model, filters.status, filters.account_id, filters.key_id]);
  useEffect(() => setLookupInput(requestId ?? ''), [requestId]);

  const list = useQuery({
    queryKey: ['requests', scope, filters, before],
    queryFn: () =>
      api<RequestPage>(`${base}${qs({ limit: 50, before, model: filters.model, status: filters.status, account_id: scope === 'admin' ? filters.account_id : undefined, key_id: filters.key_id })}`),
    placeholderData: (prev) => prev,
  });

  function lookup(e: FormEvent) {
    e.preventDefault();
    const id = lookupInput.trim();
    if (id) navigate(`${pagePath}/${enc(id)}`);
  }

  return (
    <div className="page">
      <PageHeader
        title={scope === 'client' ? 'Requests' : 'Request lookup'}
        subtitle={scope === 'client' ? 'Every call made with your keys, newest first.' : 'Calls across all accounts, newest first. Look one up by its X-TT-Request-ID.'}
      />
      <form className="card toolbar" onSubmit={lookup}>
        <label className="field grow">
          <span>Request id</span>
          <input data-testid="lookup-request-id" value={lookupInput} onChange={(e) => setLookupInput(e.target.value)} placeholder="req_…" spellCheck={false} />
        </label>
        <button type="submit" className="btn btn-primary" data-testid="lookup">
          Look up
        </button>
      </form>
      {requestId ? (
        <RequestDetail base={base} id={requestId} onClose={() => navigate(pagePath)} scope={scope} fallback={list.data?.data.find((r) => r.request_id === requestId)} />
      ) : null}
      <div className="card toolbar filters">
        <label className="field">
          <span>Model</span>
          <input data-testid="filter-model" value={model} onChange={(e) => setModel(e.target.value)} placeholder="any" />
        </label>
        <label className="field">
          <span>Status (number, ok or error)</span>
          <input data-testid="filter-status" list="status-suggestions" value={status} onChange={(e) => setStatus(e.target.value)} placeholder="any" />
          <datalist id="status-suggestions">
            {STATUS_SUGGESTIONS.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <label className="field">
          <span>Key id</span>
          <input data-testid="filter-key" value={keyId} onChange={(e) => setKeyId(e.target.value)} placeholder="any" />
        </label>
        {scope === 'admin' ? (
          <label className="field">
            <span>Account id</span>
            <input data-testid="filter-account" value={accountId} onChange={(e) => setAccountId(e.target.value)} placeholder="any" />
          </label>
        ) : null}
        {model || status || keyId || accountId ? (
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() => {
              setModel('');
              setStatus('');
              setKeyId('');
              setAccountId('');
            }}
          >
            Clear filters
          </button>
        ) : null}
      </div>
      <QueryState query={list}>
        {(d) => (
          <>
            {d.data.length === 0 ? (
              <Empty>{cursors.length ? 'No older requests.' : model || status || keyId || accountId ? 'No requests match these filters.' : 'No requests yet.'}</Empty>
            ) : (
              <TableWrap testId="requests-table" label="Requests">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Request id</th>
                    {scope === 'admin' ? <th>Account</th> : null}
                    <th>Route</th>
                    <th>Model</th>
                    <th>Status</th>
                    <th className="num">Input</th>
                    <th className="num">Output</th>
                    <th className="num">Cost</th>
                    <th className="num">Latency</th>
                    <th>Cache</th>
                  </tr>
                </thead>
                <tbody>
                  {d.data.map((r) => (
                    <tr
                      key={r.request_id}
                      data-testid="request-row"
                      data-request-id={r.request_id}
                      className={`clickable${r.request_id === requestId ? ' selected' : ''}`}
                      tabIndex={0}
                      onClick={() => navigate(`${pagePath}/${enc(r.request_id)}`)}
                      onKeyDown={(e) => e.key === 'Enter' && navigate(`${pagePath}/${enc(r.request_id)}`)}
                    >
                      <td>
                        <Time iso={r.created_at} />
                      </td>
                      <td>
                        <Mono>{r.request_id}</Mono>
                      </td>
                      {scope === 'admin' ? (
                        <td>
                          <Mono>{r.account_id}</Mono>
                        </td>
                      ) : null}
                      <td className="nowrap">
                        {r.method} {r.path}
                        {r.stream ? <span className="tag">stream</span> : null}
                      </td>
                      <td>{r.model ?? '—'}</td>
                      <td>
                        <Badge tone={statusTone(r.status)} title={r.error_code ?? undefined}>
                          {r.status}
                        </Badge>
                      </td>
                      <td className="num">{formatInt(r.input_tokens)}</td>
                      <td className="num">{formatInt(r.output_tokens)}</td>
                      <td className="num">{formatUsd(r.cost_micros)}</td>
                      <td className="num">{formatInt(r.latency_ms)} ms</td>
                      <td>{r.cache ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </TableWrap>
            )}
            <div className="pager">
              <button type="button" className="btn btn-secondary" data-testid="page-newer" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                ← Newer
              </button>
              <span className="muted small">{list.isFetching ? 'Loading…' : `Page ${cursors.length + 1}`}</span>
              <button type="button" className="btn btn-secondary" data-testid="page-older" disabled={!d.next_before} onClick={() => d.next_before && setCursors((c) => [...c, d.next_before!])}>
                Older →
              </button>
            </div>
          </>
        )}
      </QueryState>
    </div>
  );
}

function RequestDetail({ base, id, onClose, scope, fallback }: { base: string; id: string; onClose: () => void; scope: 'client' | 'admin'; fallback?: RequestLogEntry }) {
  const q = useQuery({ queryKey: ['request', base, id], queryFn: () => api<RequestLookup>(`${base}/${enc(id)}`) });
  if (q.isError && !fallback) {
    // not found (or not this account's): say so without a panel that looks like a result
    return (
      <section className="card detail" aria-live="polite">
        <div className="detail-head">
          <h2>Request lookup</h2>
          <button type="button" className="btn btn-ghost" onClick={onClose}>
            Close
          </button>
        </div>
        <ErrorBox error={q.error} />
      </section>
    );
  }
  return (
    <section className="card detail" data-testid="request-detail" aria-live="polite">
      <div className="detail-head">
        <h2>
          Request <Mono>{id}</Mono>
        </h2>
        <button type="button" className="btn btn-ghost" onClick={onClose} aria-label="Close the request">
          Close
        </button>
      </div>
      {q.isPending ? (
        <Loading />
      ) : q.isError && fallback ? (
        <>
          <RequestFields r={fallback} scope={scope} />
          <p className="muted small">Its billed usage could not be loaded: {messageOf(q.error)}</p>
        </>
      ) : q.data ? (
        <RequestFields r={q.data} scope={scope} />
      ) : (
        <ErrorBox error={q.error} />
      )}
    </section>
  );
}

/** a looked-up call (with its usage record), or a row of the log while the lookup failed (usage unknown) */
function RequestFields({ r, scope }: { r: RequestLookup | RequestLogEntry; scope: 'client' | 'admin' }) {
  const tokens = 'usage' in r ? r.usage : undefined;
  return (
    <>
      <dl className="kv">
        <dt>Status</dt>
        <dd data-testid="detail-status">
          <Badge tone={statusTone(r.status)}>{r.status}</Badge> {r.error_code ? <Mono>{r.error_code}</Mono> : null}
        </dd>
        <dt>Time</dt>
        <dd>
          <Time iso={r.created_at} />
        </dd>
        <dt>Route</dt>
        <dd>
          {r.method} {r.path} {r.stream ? <span className="tag">stream</span> : null}
        </dd>
        <dt>Model</dt>
        <dd data-testid="detail-model">{r.model ?? '—'}</dd>
        <dt>Tokens</dt>
        <dd data-testid="detail-tokens">
          {formatInt(r.input_tokens)} in · {formatInt(r.output_tokens)} out
        </dd>
        <dt>Cost</dt>
        <dd data-testid="detail-cost">{formatUsd(r.cost_micros)}</dd>
        <dt>Latency</dt>
        <dd data-testid="detail-latency">{formatInt(r.latency_ms)} ms</dd>
        <dt>Cache</dt>
        <dd data-testid="detail-cache">{r.cache ?? 'not used'}</dd>
        <dt>Channel</dt>
        <dd>{r.channel_id ? <Mono>{r.channel_id}</Mono> : '—'}</dd>
        <dt>Key</dt>
        <dd>{r.key_id ? <Mono>{r.key_id}</Mono> : '—'}</dd>
        {scope === 'admin' ? (
          <>
            <dt>Account</dt>
            <dd>
              <Link to={`/accounts/${enc(r.account_id)}`}>
                <Mono>{r.account_id}</Mono>
              </Link>
            </dd>
          </>
        ) : null}
      </dl>
      {tokens ? <UsageDetail usage={tokens} /> : tokens === null ? <p className="muted small">No usage record: this call was not billed.</p> : null}
    </>
  );
}

const USAGE_FIELDS: Array<[keyof StatementUsage, string]> = [
  ['input_tokens', 'Input tokens'],
  ['cached_input_tokens', 'Cached input tokens'],
  ['cache_write_tokens', 'Cache writes (5 min)'],
  ['cache_write_1h_tokens', 'Cache writes (1 h)'],
  ['output_tokens', 'Output tokens'],
  ['reasoning_tokens', 'Reasoning tokens'],
  ['web_searches', 'Web searches'],
];

export function UsageDetail({ usage }: { usage: StatementUsage & { cost_micros?: number } }) {
  const shown = USAGE_FIELDS.filter(([k]) => typeof usage[k] === 'number');
  return (
    <div className="usage-detail">
      <h3>Billed usage</h3>
      <dl className="kv">
        {shown.map(([k, label]) => (
          <div key={String(k)} className="kv-pair">
            <dt>{label}</dt>
            <dd>{formatInt(usage[k] as number)}</dd>
          </div>
        ))}
        {typeof usage.cost_micros === 'number' ? (
          <div className="kv-pair">
            <dt>Charged</dt>
            <dd>{formatUsd(usage.cost_micros)}</dd>
          </div>
        ) : null}
        <div className="kv-pair">
          <dt>Unit prices</dt>
          <dd data-testid="detail-unit-prices">{pricingSummary(usage.unit_prices as Record<string, unknown> | null | undefined, formatUsd)}</dd>
        </div>
        {usage.price_id ? (
          <div className="kv-pair">
            <dt>Price id</dt>
            <dd>
              <Mono>{String(usage.price_id)}</Mono>
            </dd>
          </div>
        ) : null}
      </dl>
    </div>
  );
}
