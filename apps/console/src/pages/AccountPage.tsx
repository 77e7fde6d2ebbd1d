import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { api, enc } from '../api';
import { useAuth } from '../auth';
import { formatInt, formatSignedUsd, formatUsd, parseUsdToMicros } from '../money';
import type { AccountView, AdjustmentAnswer, KeyView, ListOf, TopupAnswer } from '../types';
import { BalanceCards, Badge, Empty, ErrorBox, Mono, PageHeader, QueryState, TableWrap, Time } from '../ui';
import { StatementView } from './Statement';

type Kind = 'topup' | 'refund' | 'adjustment';

function newReference(kind: Kind): string {
  const d = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `console-${kind}-${d}-${rand}`;
}

export function AccountPage() {
  const { accountId = '' } = useParams();
  const { session } = useAuth();
  const account = useQuery({ queryKey: ['admin-account', accountId], queryFn: () => api<AccountView>(`/admin/accounts/${enc(accountId)}`) });
  return (
    <div className="page">
      <p className="breadcrumb">
        <Link to="/accounts">← Accounts</Link>
      </p>
      <PageHeader title={account.data?.name ?? 'Account'} subtitle={<Mono>{accountId}</Mono>} />
      <QueryState query={account}>
        {(a) => <BalanceCards account={a} heldLabel="Held" showDebt />}
      </QueryState>
      {session?.role === 'admin' ? <MoneyForm accountId={accountId} available={account.data?.available_micros} /> : null}
      <h2>Statement</h2>
      <StatementView base={`/admin/accounts/${enc(accountId)}/statement`} filePrefix={`statement-${accountId}`} />
      <AccountKeys accountId={accountId} />
    </div>
  );
}

interface EntryBody {
  amount_micros: number;
  reference: string;
  reason?: string;
  request_id?: string;
}

function MoneyForm({ accountId, available }: { accountId: string; available?: number }) {
  const qc = useQueryClient();
  const { actor, session } = useAuth();
  const [kind, setKind] = useState<Kind>('topup');
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState(() => newReference('topup'));
  const [reason, setReason] = useState('');
  const [requestId, setRequestId] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const [result, setResult] = useState<{ entry: TopupAnswer | AdjustmentAnswer; kind: Kind; duplicate: boolean } | null>(null);

  const post = useMutation({
    mutationFn: (v: { kind: Kind; body: EntryBody }) =>
      api<TopupAnswer | AdjustmentAnswer>(`/admin/accounts/${enc(accountId)}/${v.kind === 'topup' ? 'topups' : v.kind === 'refund' ? 'refunds' : 'adjustments'}`, { method: 'POST', body: v.body }),
    onSuccess: (entry, v) => {
      setResult({ entry, kind: v.kind, duplicate: entry.duplicate });
      setAmount('');
      setReason('');
      setRequestId('');
      setReference(newReference(v.kind));
      void qc.invalidateQueries({ queryKey: ['admin-account', accountId] });
      void qc.invalidateQueries({ queryKey: ['statement'] });
      void qc.invalidateQueries({ queryKey: ['accounts'] });
    },
    onError: () => setResult(null),
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    setInvalid(null);
    setResult(null);
    post.reset();
    const parsed = parseUsdToMicros(amount, { signed: kind === 'adjustment', label: 'Amount' });
    if (!parsed.ok) return setInvalid(parsed.error);
    if (parsed.micros === 0) return setInvalid('Amount must not be zero');
    if (!reference.trim()) return setInvalid('Reference is required (it makes the entry idempotent)');
    if (kind !== 'topup' && !reason.trim()) return setInvalid(`A reason is required for ${kind === 'refund' ? 'a refund' : 'an adjustment'}`);
    if (kind === 'adjustment' && parsed.micros < 0 && available !== undefined && -parsed.micros > available) {
      return setInvalid(`This debit (${formatUsd(-parsed.micros)}) is larger than the available balance (${formatUsd(available)})`);
    }
    const body: EntryBody = { amount_micros: parsed.micros, reference: reference.trim() };
    if (reason.trim()) body.reason = reason.trim();
    if (kind === 'refund' && requestId.trim()) body.request_id = requestId.trim();
    post.mutate({ kind, body });
  }

  const parsedPreview = amount.trim() ? parseUsdToMicros(amount, { signed: kind === 'adjustment' }) : null;
  const balanceAfter = result ? ('balance_after_micros' in result.entry ? result.entry.balance_after_micros : result.entry.balance_micros) : undefined;

  return (
    <form className="card form-grid" onSubmit={submit}>
      <h2 className="span-all">Record a balance change</h2>
      <p className="muted small span-all">
        Recorded in the ledger as <strong>{actor.trim() || session?.role}</strong> (the Actor field in the header). A repeated reference records nothing new.
      </p>
      <label className="field">
        <span>Kind</span>
        <select
          data-testid="entry-kind"
          value={kind}
          onChange={(e) => {
            const k = e.target.value as Kind;
            setKind(k);
            setReference(newReference(k));
            setInvalid(null);
          }}
        >
          <option value="topup">Top-up (credit)</option>
          <option value="refund">Refund (credit)</option>
          <option value="adjustment">Adjustment (signed: + credit, − debit)</option>
        </select>
      </label>
      <label className="field">
        <span>Amount (USD{kind === 'adjustment' ? ', negative to debit' : ''})</span>
        <input data-testid="entry-amount" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} placeholder={kind === 'adjustment' ? '-1.50' : '25.00'} />
        {parsedPreview?.ok ? <small className="muted">= {formatInt(parsedPreview.micros)} micros</small> : null}
      </label>
      <label className="field">
        <span>Reference</span>
        <input data-testid="entry-reference" value={reference} onChange={(e) => setReference(e.target.value)} spellCheck={false} />
      </label>
      <label className="field">
        <span>Reason{kind === 'topup' ? ' (optional)' : ''}</span>
        <input data-testid="entry-reason" value={reason} onChange={(e) => setReason(e.target.value)} placeholder={kind === 'refund' ? 'failed generation, ticket #123' : 'why'} />
      </label>
      {kind === 'refund' ? (
        <label className="field">
          <span>Request id (optional)</span>
          <input data-testid="entry-request-id" value={requestId} onChange={(e) => setRequestId(e.target.value)} placeholder="req_…" spellCheck={false} />
        </label>
      ) : null}
      <div className="span-all form-actions">
        <button type="submit" className="btn btn-primary" data-testid="entry-submit" disabled={post.isPending}>
          {post.isPending ? 'Recording…' : `Record ${kind}`}
        </button>
        {invalid ? (
          <div className="state state-error" data-testid="error" role="alert">
            {invalid}
          </div>
        ) : null}
      </div>
      {result || post.isError ? (
        <div className="span-all" data-testid="entry-result" role="status">
          {post.isError ? (
            <ErrorBox error={post.error} title={`The ${kind} was not recorded`} />
          ) : result ? (
            <div className="state state-ok">
              {result.duplicate ? 'Already recorded with this reference (nothing changed): ' : 'Recorded: '}
              {result.kind} of <strong>{formatSignedUsd(result.entry.amount_micros)}</strong>, reference <Mono>{result.entry.reference}</Mono>
              {balanceAfter !== undefined ? (
                <>
                  ; balance after <strong>{formatUsd(balanceAfter)}</strong>
                </>
              ) : null}
              .
            </div>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}

function AccountKeys({ accountId }: { accountId: string }) {
  const keys = useQuery({ queryKey: ['admin-account-keys', accountId], queryFn: () => api<ListOf<KeyView>>(`/admin/accounts/${enc(accountId)}/keys`) });
  return (
    <>
      <h2>Keys</h2>
      <QueryState query={keys}>
        {(d) =>
          d.data.length === 0 ? (
            <Empty>No keys.</Empty>
          ) : (
            <TableWrap testId="account-keys-table" label="Keys">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Key</th>
                  <th>Status</th>
                  <th>Models</th>
                  <th>Budget</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {d.data.map((k) => (
                  <tr key={k.id}>
                    <td>{k.name}</td>
                    <td>
                      <Mono title={k.id}>{k.prefix}…</Mono>
                    </td>
                    <td>{k.revoked_at ? <Badge tone="bad">revoked</Badge> : <Badge tone="ok">active</Badge>}</td>
                    <td>{k.models.length ? k.models.join(', ') : <span className="muted">all</span>}</td>
                    <td>{k.budget ? `${formatUsd(k.budget.limit_micros)} / ${k.budget.period}` : <span className="muted">none</span>}</td>
                    <td>
                      <Time iso={k.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </TableWrap>
          )
        }
      </QueryState>
    </>
  );
}
