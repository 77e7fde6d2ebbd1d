import { useState, type ReactNode } from 'react';
import { ApiError, downloadCsv } from './api';
import { formatUsd } from './money';
import type { AccountView } from './types';

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return 'Something went wrong. Please try again.';
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" data-testid="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <div className="state state-empty" data-testid="empty">
      {children}
    </div>
  );
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
  return (
    <div className="state state-error" data-testid="error" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {messageOf(error)}
      {status ? <span className="muted">{status}</span> : null}
    </div>
  );
}

/** loading / error / content for one query */
export function QueryState<T>({
  query,
  children,
  loadingLabel,
}: {
  query: { isPending: boolean; isError: boolean; error: unknown; data: T | undefined };
  children: (data: T) => ReactNode;
  loadingLabel?: string;
}) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isError || query.data === undefined) return <ErrorBox error={query.error} />;
  return <>{children(query.data)}</>;
}

export function TableWrap({ children, testId, label }: { children: ReactNode; testId?: string; label?: string }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={label ?? 'table'}>
      <table data-testid={testId}>{children}</table>
    </div>
  );
}

export function Badge({ tone, children, title }: { tone: 'ok' | 'warn' | 'bad' | 'neutral' | 'info'; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

export function PageHeader({ title, children, subtitle }: { title: string; subtitle?: ReactNode; children?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle ? <p className="muted subtitle">{subtitle}</p> : null}
      </div>
      {children ? <div className="page-actions">{children}</div> : null}
    </div>
  );
}

/** `2026-12-01 19:14:28 UTC` */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** a UTC time without the suffix (the layout says once that times are UTC), the full ISO time as its title */
export function Time({ iso, utc = false }: { iso: string | null | undefined; utc?: boolean }) {
  if (!iso) return <span className="muted">—</span>;
  const text = formatTime(iso);
  return (
    <time dateTime={iso} className="nowrap" title={`${iso} (UTC)`}>
      {utc ? text : text.replace(/ UTC$/, '')}
    </time>
  );
}

export function Mono({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <code className="mono" title={title}>
      {children}
    </code>
  );
}

export function CsvButton({ path, filename, testId, label = 'Download CSV' }: { path: string; filename: string; testId: string; label?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <span className="csv-button">
      <button
        type="button"
        className="btn btn-secondary"
        data-testid={testId}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await downloadCsv(path, filename);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? 'Downloading…' : label}
      </button>
      {error ? <ErrorBox error={error} title="CSV download failed" /> : null}
    </span>
  );
}

// ---- periods ----------------------------------------------------------------------------------------

export type PeriodPreset = 'all' | '30d' | '7d' | 'month' | 'last-month' | 'custom';

export interface Period {
  preset: PeriodPreset;
  /** ISO instants, undefined = the server's default (from the beginning / until now) */
  from?: string;
  to?: string;
  /** the custom dates as typed (YYYY-MM-DD, UTC days, both inclusive) */
  fromDate?: string;
  toDate?: string;
}

const DAY = 86_400_000;
const dayStart = (d: Date) => Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());

export function makePeriod(preset: PeriodPreset, fromDate?: string, toDate?: string): Period {
  const now = new Date();
  switch (preset) {
    case 'all':
      return { preset };
    case '30d':
      return { preset, from: new Date(now.getTime() - 30 * DAY).toISOString() };
    case '7d':
      return { preset, from: new Date(now.getTime() - 7 * DAY).toISOString() };
    case 'month':
      return { preset, from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString() };
    case 'last-month':
      return {
        preset,
        from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString(),
        to: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(),
      };
    case 'custom': {
      const today = new Date(dayStart(now)).toISOString().slice(0, 10);
      const f = fromDate || new Date(dayStart(now) - 30 * DAY).toISOString().slice(0, 10);
      const t = toDate || today;
      const toMs = Math.min(Date.parse(`${t}T00:00:00.000Z`) + DAY, now.getTime() + 1000);
      return { preset, fromDate: f, toDate: t, from: `${f}T00:00:00.000Z`, to: new Date(toMs).toISOString() };
    }
  }
}

export function periodLabel(p: Period): string {
  switch (p.preset) {
    case 'all':
      return 'all-time';
    case 'custom':
      return `${p.fromDate}_${p.toDate}`;
    default:
      return (p.from ?? '').slice(0, 10) + (p.to ? `_${p.to.slice(0, 10)}` : '');
  }
}

export function PeriodPicker({ value, onChange, allowAll = true }: { value: Period; onChange: (p: Period) => void; allowAll?: boolean }) {
  return (
    <div className="period-picker">
      <label>
        <span>Period</span>
        <select data-testid="period" value={value.preset} onChange={(e) => onChange(makePeriod(e.target.value as PeriodPreset, value.fromDate, value.toDate))}>
          {allowAll ? <option value="all">All time</option> : null}
          <option value="7d">Last 7 days</option>
          <option value="30d">Last 30 days</option>
          <option value="month">This month (UTC)</option>
          <option value="last-month">Last month (UTC)</option>
          <option value="custom">Custom dates…</option>
        </select>
      </label>
      {value.preset === 'custom' ? (
        <>
          <label>
            <span>From</span>
            <input type="date" data-testid="period-from" value={value.fromDate ?? ''} max={value.toDate} onChange={(e) => e.target.value && onChange(makePeriod('custom', e.target.value, value.toDate))} />
          </label>
          <label>
            <span>To (inclusive)</span>
            <input type="date" data-testid="period-to" value={value.toDate ?? ''} min={value.fromDate} onChange={(e) => e.target.value && onChange(makePeriod('custom', value.fromDate, e.target.value))} />
          </label>
        </>
      ) : null}
    </div>
  );
}

export function statusTone(status: number): 'ok' | 'warn' | 'bad' {
  return status < 400 ? 'ok' : status < 500 ? 'warn' : 'bad';
}

/** a compact summary of unit prices: `in $0.15 · out $0.60 /1M` */
export function pricingSummary(p: Record<string, unknown> | null | undefined, fmt: (n: number) => string): string {
  if (!p) return '—';
  const parts: string[] = [];
  const num = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : undefined);
  const add = (label: string, k: string, suffix = '') => {
    const v = num(k);
    if (v !== undefined) parts.push(`${label} ${fmt(v)}${suffix}`);
  };
  add('in', 'input_per_mtok_micros', '/1M');
  add('cached', 'cached_input_per_mtok_micros', '/1M');
  add('write', 'cache_write_per_mtok_micros', '/1M');
  add('write 1h', 'cache_write_1h_per_mtok_micros', '/1M');
  add('out', 'output_per_mtok_micros', '/1M');
  add('search', 'per_web_search_micros', '/search');
  add('image', 'per_image_micros', '/image');
  add('video', 'per_second_micros', '/s');
  add('task', 'per_task_micros', '/task');
  return parts.length ? parts.join(' · ') : '—';
}

/** One figure in a card: its label, the value, and an optional line under it. */
export function StatCard({ label, value, testId, bad = false, note }: { label: string; value: ReactNode; testId?: string; bad?: boolean; note?: ReactNode }) {
  return (
    <div className={`card stat${bad ? ' stat-bad' : ''}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
      {note ? <div className="muted small">{note}</div> : null}
    </div>
  );
}

/** An account's balance, held and available amounts, and its debt (shown when any, or always with `showDebt`). */
export function BalanceCards({ account: a, heldLabel = 'Held by running calls', showDebt = false }: { account: AccountView; heldLabel?: string; showDebt?: boolean }) {
  const stat = (label: string, micros: number, testId: string, bad = false) => <StatCard label={label} value={formatUsd(micros)} testId={testId} bad={bad} />;
  return (
    <div className="cards">
      {stat('Balance', a.balance_micros, 'balance')}
      {stat(heldLabel, a.held_micros, 'held')}
      {stat('Available', a.available_micros, 'available')}
      {showDebt || a.debt_micros > 0 ? stat('Debt', a.debt_micros, 'debt', a.debt_micros > 0) : null}
    </div>
  );
}

