import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, enc } from '../api';
import { formatInt, formatUsd, parseUsdToMicros } from '../money';
import type { ClientAccount, CreatedKey, KeyView, ListOf } from '../types';
import { Badge, Empty, ErrorBox, Mono, PageHeader, QueryState, TableWrap, Time } from '../ui';

interface CreateBody {
  name: string;
  models?: string[];
  rpm?: number;
  tpm?: number;
  expires_at?: string;
  budget?: { limit_micros: number; period: 'day' | 'week' | 'month'; alert_webhook?: string };
  cache_ttl_s?: number;
}

function positiveInt(v: string, label: string): number | undefined | string {
  const s = v.trim();
  if (!s) return undefined;
  if (!/^\d+$/.test(s) || Number(s) <= 0 || !Number.isSafeInteger(Number(s))) return `${label} must be a whole number above 0`;
  return Number(s);
}

function keyState(k: KeyView): { tone: 'ok' | 'bad' | 'warn'; label: string } {
  if (k.revoked_at) return { tone: 'bad', label: 'revoked' };
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return { tone: 'warn', label: 'expired' };
  return { tone: 'ok', label: 'active' };
}

export function Keys() {
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: ['keys'], queryFn: () => api<ListOf<KeyView>>('/v1/account/keys') });
  const account = useQuery({ queryKey: ['account'], queryFn: () => api<ClientAccount>('/v1/account') });
  const [created, setCreated] = useState<CreatedKey | null>(null);

  return (
    <div className="page">
      <PageHeader title="API keys" subtitle="Keys of your account. A key's secret is shown once, when it is created." />
      {created ? <NewKey created={created} onDone={() => setCreated(null)} /> : null}
      <CreateKeyForm
        callerModels={account.data?.key?.models ?? []}
        onCreated={(k) => {
          setCreated(k);
          void qc.invalidateQueries({ queryKey: ['keys'] });
          window.scrollTo({ top: 0, behavior: 'smooth' });
        }}
      />
      <h2>Your keys</h2>
      <QueryState query={keys}>
        {(d) =>
          d.data.length === 0 ? (
            <Empty>No keys yet.</Empty>
          ) : (
            <TableWrap testId="keys-table" label="API keys">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Key</th>
                  <th>Status</th>
                  <th>Models</th>
                  <th className="num">RPM</th>
                  <th className="num">TPM</th>
                  <th>Budget</th>
                  <th className="num">Cache TTL</th>
                  <th>Expires</th>
                  <th>Created</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {d.data.map((k) => (
                  <KeyRow key={k.id} k={k} current={account.data?.key?.id === k.id} />
                ))}
              </tbody>
            </TableWrap>
          )
        }
      </QueryState>
    </div>
  );
}

function KeyRow({ k, current }: { k: KeyView; current: boolean }) {
  const qc = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const revoke = useMutation({
    mutationFn: () => api<KeyView>(`/v1/account/keys/${enc(k.id)}`, { method: 'DELETE' }),
    onSuccess: () => {
      setConfirming(false);
      void qc.invalidateQueries({ queryKey: ['keys'] });
    },
  });
  const st = keyState(k);
  return (
    <tr data-testid="key-row" data-key-id={k.id} className={k.revoked_at ? 'row-dim' : undefined}>
      <td>
        <strong>{k.name}</strong>
        {current ? <span className="tag">this session</span> : null}
      </td>
      <td>
        <Mono title={k.id}>{k.prefix}…</Mono>
      </td>
      <td>
        <Badge tone={st.tone}>{st.label}</Badge>
      </td>
      <td className="wrap">{k.models.length ? k.models.join(', ') : <span className="muted">all</span>}</td>
      <td className="num">{k.rpm === null ? <span className="muted">default</span> : formatInt(k.rpm)}</td>
      <td className="num">{k.tpm === null ? <span className="muted">default</span> : formatInt(k.tpm)}</td>
      <td className="nowrap">
        {k.budget ? (
          <>
            {formatUsd(k.budget.limit_micros)} / {k.budget.period}
            {k.budget.spent_micros !== undefined ? <div className="muted small">spent {formatUsd(k.budget.spent_micros)}</div> : null}
          </>
        ) : (
          <span className="muted">none</span>
        )}
      </td>
      <td className="num">{k.cache_ttl_s ? `${formatInt(k.cache_ttl_s)} s` : <span className="muted">off</span>}</td>
      <td>{k.expires_at ? <Time iso={k.expires_at} /> : <span className="muted">never</span>}</td>
      <td>
        <Time iso={k.created_at} />
      </td>
      <td className="actions">
        {k.revoked_at ? (
          <span className="muted small">
            revoked <Time iso={k.revoked_at} />
          </span>
        ) : confirming ? (
          <span className="confirm">
            <span className="small">{current ? 'Revoke the key you are signed in with? You will be signed out.' : 'Revoke this key? Calls with it will fail.'}</span>
            <button type="button" className="btn btn-danger" data-testid="key-revoke-confirm" disabled={revoke.isPending} onClick={() => revoke.mutate()}>
              {revoke.isPending ? 'Revoking…' : 'Yes, revoke'}
            </button>
            <button type="button" className="btn btn-ghost" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" className="btn btn-danger-outline" data-testid="key-revoke" onClick={() => setConfirming(true)}>
            Revoke
          </button>
        )}
        {revoke.isError ? <ErrorBox error={revoke.error} /> : null}
      </td>
    </tr>
  );
}

function CreateKeyForm({ onCreated, callerModels }: { onCreated: (k: CreatedKey) => void; callerModels: string[] }) {
  const [name, setName] = useState('');
  const [models, setModels] = useState('');
  const [rpm, setRpm] = useState('');
  const [tpm, setTpm] = useState('');
  const [expires, setExpires] = useState('');
  const [budgetUsd, setBudgetUsd] = useState('');
  const [period, setPeriod] = useState<'day' | 'week' | 'month'>('month');
  const [webhook, setWebhook] = useState('');
  const [cacheTtl, setCacheTtl] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: CreateBody) => api<CreatedKey>('/v1/account/keys', { method: 'POST', body }),
    onSuccess: (k) => {
      onCreated(k);
      setName('');
      setModels('');
      setRpm('');
      setTpm('');
      setExpires('');
      setBudgetUsd('');
      setWebhook('');
      setCacheTtl('');
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    setInvalid(null);
    const body: CreateBody = { name: name.trim() || 'key' };
    const list = models
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    if (list.length) body.models = list;
    for (const [v, label, field] of [
      [rpm, 'Requests per minute', 'rpm'],
      [tpm, 'Tokens per minute', 'tpm'],
    ] as const) {
      const n = positiveInt(v, label);
      if (typeof n === 'string') return setInvalid(n);
      if (n !== undefined) body[field] = n;
    }
    if (expires) {
      const t = Date.parse(expires);
      if (Number.isNaN(t)) return setInvalid('Expiry is not a valid date');
      if (t <= Date.now()) return setInvalid('Expiry must be in the future');
      body.expires_at = new Date(t).toISOString();
    }
    if (budgetUsd.trim()) {
      const p = parseUsdToMicros(budgetUsd, { label: 'Budget' });
      if (!p.ok) return setInvalid(p.error);
      body.budget = { limit_micros: p.micros, period };
      if (webhook.trim()) {
        if (!/^https?:\/\/\S+$/.test(webhook.trim())) return setInvalid('The alert webhook must be an http(s) URL');
        body.budget.alert_webhook = webhook.trim();
      }
    } else if (webhook.trim()) {
      return setInvalid('An alert webhook needs a budget limit');
    }
    if (cacheTtl.trim()) {
      if (!/^\d+$/.test(cacheTtl.trim())) return setInvalid('Cache TTL must be a whole number of seconds (0: off)');
      body.cache_ttl_s = Number(cacheTtl.trim());
    }
    create.mutate(body);
  }

  return (
    <form className="card form-grid" onSubmit={submit}>
      <h2 className="span-all">Create a key</h2>
      <label className="field">
        <span>Name</span>
        <input data-testid="key-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-pipeline" maxLength={200} />
      </label>
      <label className="field">
        <span>Models (comma separated, empty: {callerModels.length ? 'same as this key' : 'all'})</span>
        <input data-testid="key-models" value={models} onChange={(e) => setModels(e.target.value)} placeholder={callerModels.length ? callerModels.join(', ') : 'gpt-4o-mini, claude-sonnet-4'} />
      </label>
      <label className="field">
        <span>Requests per minute</span>
        <input data-testid="key-rpm" inputMode="numeric" value={rpm} onChange={(e) => setRpm(e.target.value)} placeholder="default" />
      </label>
      <label className="field">
        <span>Tokens per minute</span>
        <input data-testid="key-tpm" inputMode="numeric" value={tpm} onChange={(e) => setTpm(e.target.value)} placeholder="default" />
      </label>
      <label className="field">
        <span>Expires (your local time)</span>
        <input data-testid="key-expires" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
      </label>
      <label className="field">
        <span>Response cache TTL (seconds, 0: off)</span>
        <input data-testid="key-cache-ttl" inputMode="numeric" value={cacheTtl} onChange={(e) => setCacheTtl(e.target.value)} placeholder="0" />
      </label>
      <fieldset className="span-all budget">
        <legend>Spend budget (optional)</legend>
        <label className="field">
          <span>Limit (USD)</span>
          <input data-testid="key-budget-usd" inputMode="decimal" value={budgetUsd} onChange={(e) => setBudgetUsd(e.target.value)} placeholder="e.g. 25.00" />
        </label>
        <label className="field">
          <span>Period (UTC)</span>
          <select data-testid="key-budget-period" value={period} onChange={(e) => setPeriod(e.target.value as 'day' | 'week' | 'month')}>
            <option value="day">day</option>
            <option value="week">week</option>
            <option value="month">month</option>
          </select>
        </label>
        <label className="field grow">
          <span>Alert webhook (optional: at 50, 80 and 100 %)</span>
          <input data-testid="key-budget-webhook" type="url" value={webhook} onChange={(e) => setWebhook(e.target.value)} placeholder="https://ops.example.com/budget" />
        </label>
      </fieldset>
      <div className="span-all form-actions">
        <button type="submit" className="btn btn-primary" data-testid="key-create" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create key'}
        </button>
        {invalid ? (
          <div className="state state-error" data-testid="error" role="alert">
            {invalid}
          </div>
        ) : null}
        {create.isError ? <ErrorBox error={create.error} /> : null}
      </div>
    </form>
  );
}

function NewKey({ created, onDone }: { created: CreatedKey; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <div className="card new-key" role="status">
      <h2>Key “{created.name}” created</h2>
      <p className="warning">
        <strong>Copy it now.</strong> This is the only time the key is shown: the gateway keeps only its hash and cannot show it again.
      </p>
      <div className="secret-row">
        <code className="secret" data-testid="new-key">{created.key}</code>
        <button
          type="button"
          className="btn btn-primary"
          data-testid="copy-key"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(created.key);
              setCopied(true);
            } catch {
              setCopied(false);
            }
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onDone}>
          I saved it
        </button>
      </div>
      {copied === false ? <p className="muted small">Could not copy automatically: select the key and copy it by hand.</p> : null}
    </div>
  );
}
