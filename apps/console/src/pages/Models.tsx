import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, enc } from '../api';
import { formatUsd, microsToUsdInput, parseUsdToMicros } from '../money';
import { PRICE_FIELDS, type ListOf, type ModelView, type PriceChange, type Pricing } from '../types';
import { Badge, Empty, ErrorBox, Loading, Mono, PageHeader, QueryState, TableWrap, Time, messageOf, pricingSummary } from '../ui';

export function Models() {
  const list = useQuery({ queryKey: ['models'], queryFn: () => api<ListOf<ModelView>>('/admin/models') });
  const [editing, setEditing] = useState<string | null>(null);
  const model = list.data?.data.find((m) => m.id === editing) ?? null;
  return (
    <div className="page">
      <PageHeader title="Models & prices" subtitle="Prices are USD per 1M tokens (or per unit); the gateway stores them as integer micros." />
      {model ? <PriceEditor key={model.id} model={model} onClose={() => setEditing(null)} /> : null}
      <QueryState query={list}>
        {(d) =>
          d.data.length === 0 ? (
            <Empty>No models.</Empty>
          ) : (
            <TableWrap testId="models-table" label="Models">
              <thead>
                <tr>
                  <th>Model</th>
                  <th>Kind</th>
                  <th>Aliases · fallbacks</th>
                  <th className="num">Input /1M</th>
                  <th className="num">Output /1M</th>
                  <th>Other prices</th>
                  <th>Updated</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {d.data.map((m) => {
                  const { input_per_mtok_micros, output_per_mtok_micros, ...rest } = m.pricing;
                  return (
                    <tr key={m.id} data-testid="model-row" data-model-id={m.id} className={m.id === editing ? 'selected' : undefined}>
                      <td>
                        <strong>{m.id}</strong>
                      </td>
                      <td>
                        <Badge tone="neutral">{m.kind}</Badge>
                      </td>
                      <td className="small wrap">
                        {m.aliases.length ? <div>aliases: {m.aliases.join(', ')}</div> : null}
                        {m.fallbacks.length ? <div>fallbacks: {m.fallbacks.join(' → ')}</div> : null}
                        {!m.aliases.length && !m.fallbacks.length ? <span className="muted">—</span> : null}
                      </td>
                      <td className="num">{input_per_mtok_micros === undefined ? <span className="muted">—</span> : formatUsd(input_per_mtok_micros)}</td>
                      <td className="num">{output_per_mtok_micros === undefined ? <span className="muted">—</span> : formatUsd(output_per_mtok_micros)}</td>
                      <td className="small wrap">{Object.keys(rest).length ? pricingSummary(rest as Record<string, unknown>, formatUsd) : <span className="muted">—</span>}</td>
                      <td>
                        <Time iso={m.updated_at} />
                      </td>
                      <td className="actions">
                        <button type="button" className="btn btn-secondary" data-testid="model-edit" onClick={() => setEditing(m.id)}>
                          Edit prices
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </TableWrap>
          )
        }
      </QueryState>
    </div>
  );
}

function PriceEditor({ model, onClose }: { model: ModelView; onClose: () => void }) {
  const qc = useQueryClient();
  const ref = useRef<HTMLFormElement>(null);
  const initial = () => Object.fromEntries(PRICE_FIELDS.map(({ field }) => [field, microsToUsdInput(model.pricing[field])])) as Record<keyof Pricing, string>;
  const [values, setValues] = useState<Record<keyof Pricing, string>>(initial);
  const [invalid, setInvalid] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const history = useQuery({ queryKey: ['model-prices', model.id], queryFn: () => api<ListOf<PriceChange>>(`/admin/models/${enc(model.id)}/prices`) });
  const save = useMutation({
    mutationFn: (pricing: Pricing) => api<ModelView>(`/admin/models/${enc(model.id)}`, { method: 'PATCH', body: { pricing } }),
    onSuccess: () => {
      setSaved(true);
      void qc.invalidateQueries({ queryKey: ['models'] });
      void qc.invalidateQueries({ queryKey: ['model-prices', model.id] });
    },
  });

  useEffect(() => {
    ref.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, []);

  function submit(e: FormEvent) {
    e.preventDefault();
    setInvalid(null);
    setSaved(false);
    save.reset();
    const patch: Pricing = {};
    for (const { field, label } of PRICE_FIELDS) {
      const raw = values[field].trim();
      const before = model.pricing[field];
      if (raw === '') {
        if (before !== undefined) return setInvalid(`${label}: a price cannot be removed here; enter 0 to make it free`);
        continue;
      }
      const p = parseUsdToMicros(raw, { label });
      if (!p.ok) return setInvalid(p.error);
      if (p.micros !== before) patch[field] = p.micros;
    }
    if (Object.keys(patch).length === 0) return setInvalid('Nothing changed');
    save.mutate(patch);
  }

  return (
    <form ref={ref} className="card editor" onSubmit={submit} data-testid="model-editor">
      <div className="detail-head">
        <h2>
          Prices of <Mono>{model.id}</Mono>
        </h2>
        <button type="button" className="btn btn-ghost" onClick={onClose}>
          Close
        </button>
      </div>
      <p className="muted small">USD, at most 6 decimals, not negative. Empty: not priced (calls needing that price are refused).</p>
      <div className="price-grid">
        {PRICE_FIELDS.map(({ field, label, unit }) => (
          <label key={field} className="field">
            <span>
              {label} <span className="muted">USD {unit}</span>
            </span>
            <input
              data-testid={`price-${field}`}
              inputMode="decimal"
              value={values[field]}
              onChange={(e) => {
                setValues((v) => ({ ...v, [field]: e.target.value }));
                setSaved(false);
              }}
              placeholder="not priced"
            />
          </label>
        ))}
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" data-testid="model-save" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save prices'}
        </button>
        <button type="button" className="btn btn-ghost" onClick={() => setValues(initial())}>
          Reset
        </button>
        {saved ? <span className="state state-ok" data-testid="model-saved">Saved.</span> : null}
      </div>
      {invalid || save.isError ? (
        <div className="state state-error" data-testid="model-error" role="alert">
          <span data-testid="error">{invalid ?? messageOf(save.error)}</span>
        </div>
      ) : null}
      <section data-testid="price-history">
      <h3>Price history</h3>
      {history.isPending ? (
        <Loading />
      ) : history.isError ? (
        <ErrorBox error={history.error} />
      ) : history.data.data.length === 0 ? (
        <Empty>No price changes recorded.</Empty>
      ) : (
        <TableWrap testId="price-history-table" label="Price history">
          <thead>
            <tr>
              <th>Changed</th>
              <th>Actor</th>
              <th>Prices</th>
            </tr>
          </thead>
          <tbody>
            {history.data.data.map((p) => (
              <tr key={p.id} data-testid="price-history-row">
                <td>
                  <Time iso={p.changed_at} />
                </td>
                <td>{p.actor ?? <span className="muted">—</span>}</td>
                <td className="small wrap">{pricingSummary(p.pricing as Record<string, unknown>, formatUsd)}</td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      )}
      </section>
    </form>
  );
}
