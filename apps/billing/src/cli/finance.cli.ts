// The finance and ops reports without writing HTTP by hand:
//   npm run finance -- reconciliation [--from ISO] [--to ISO] [--account ID] [--csv] [--json]
//   npm run finance -- holds [--state active|settled|released|expired] [--account ID] [--limit N]
//   npm run finance -- usage [--from ISO] [--to ISO] [--account ID]
//   npm run finance -- expired [--from ISO] [--to ISO] [--account ID] [--limit N] [--json]
// It talks to the admin API: GATEWAY_URL (default http://127.0.0.1:8080) and ADMIN_TOKEN (default: the
// token `npm start` saved in .gateway/admin-token). `reconciliation` exits 1 when the books do not tie out.
import { formatUsd, type ExpiredHoldView, type HoldView, type Reconciliation, type UsageRow } from '@gateway/contracts';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

type Args = { command: string; flags: Record<string, string | true> };

export function parseArgs(argv: string[]): Args {
  const [command = 'help', ...rest] = argv;
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = rest[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags[a.slice(2)] = next;
      i++;
    } else flags[a.slice(2)] = true;
  }
  return { command, flags };
}

function token(): string {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const file = path.resolve(__dirname, '../../../../../.gateway/admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new Error('set ADMIN_TOKEN (or start the gateway with npm start, which saves one)');
}

async function get(route: string, query: Record<string, string | true | undefined>, accept = 'application/json'): Promise<string> {
  const base = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080';
  const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string')).toString();
  const r = await fetch(`${base}${route}${qs ? `?${qs}` : ''}`, { headers: { authorization: `Bearer ${token()}`, accept } });
  const text = await r.text();
  if (!r.ok) throw new Error(`${route} answered ${r.status}: ${text}`);
  return text;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

const usd = (n: number) => formatUsd(n);

export async function run(argv: string[], out: (s: string) => void): Promise<number> {
  const { command, flags } = parseArgs(argv);
  const period = { from: flags.from, to: flags.to, account_id: flags.account };
  switch (command) {
    case 'reconciliation': {
      if (flags.csv) {
        const csv = await get('/admin/reconciliation', period, 'text/csv');
        out(csv.trimEnd());
        return csv.trimEnd().endsWith(',true') ? 0 : 1;
      }
      const r = JSON.parse(await get('/admin/reconciliation', period)) as Reconciliation;
      if (flags.json) out(JSON.stringify(r, null, 2));
      else {
        out(`Reconciliation ${r.from} .. ${r.to}`);
        out(
          table([
            ['account', 'opening', 'top-ups', 'adjustments', 'charges', 'released', 'open holds', 'closing', 'debt', 'expired', 'expired amount', 'ties out'],
            ...r.accounts.map((a) => [
              a.account_id,
              usd(a.opening_balance_micros),
              usd(a.topups_micros),
              usd(a.adjustments_micros),
              usd(a.charges_micros),
              usd(a.released_holds_micros),
              usd(a.open_holds_micros),
              usd(a.closing_balance_micros),
              usd(a.debt_micros),
              String(a.expired_unsettled_holds),
              usd(a.expired_unsettled_micros),
              a.ties_out ? 'yes' : 'NO',
            ]),
          ]),
        );
        out(`EXPIRED UNSETTLED: ${r.expired_unsettled_holds} hold(s), ${usd(r.expired_unsettled_micros)} (expired in the period, never settled; list them with: finance expired)`);
        out(`BOOKS TIE OUT: ${r.ties_out ? 'yes' : 'NO'} (${r.accounts.length} account(s); opening + top-ups + adjustments - charges = closing)`);
      }
      return r.ties_out ? 0 : 1;
    }
    case 'holds': {
      const r = JSON.parse(await get('/admin/holds', { state: flags.state, account_id: flags.account, limit: flags.limit })) as { data: HoldView[] };
      out(
        table([
          ['hold', 'account', 'state', 'held', 'charged', 'created', 'resolved'],
          ...r.data.map((h) => [h.id, h.account_id, h.state, usd(h.amount_micros), usd(h.settled_micros + h.overage_micros), h.created_at, h.resolved_at ?? '-']),
        ]),
      );
      return 0;
    }
    case 'expired': {
      const r = JSON.parse(await get('/admin/expired-holds', { ...period, limit: flags.limit })) as { data: ExpiredHoldView[] };
      if (flags.json) {
        out(JSON.stringify(r.data, null, 2));
        return 0;
      }
      out(
        table([
          ['hold', 'account', 'key', 'request', 'model', 'amount', 'created', 'expired at'],
          ...r.data.map((h) => [h.id, h.account_id, h.key_id ?? '-', h.request_id ?? '-', h.model ?? '-', usd(h.amount_micros), h.created_at, h.expired_at]),
        ]),
      );
      const total = r.data.reduce((n, h) => n + h.amount_micros, 0);
      out(`${r.data.length} expired unsettled hold(s), ${usd(total)}`);
      return 0;
    }
    case 'usage': {
      const r = JSON.parse(await get('/admin/usage', period)) as { data: UsageRow[] };
      out(
        table([
          ['account', 'model', 'requests', 'input', 'cached', 'output', 'cost'],
          ...r.data.map((u) => [u.account_id, u.model, String(u.requests), String(u.input_tokens), String(u.cached_input_tokens), String(u.output_tokens), usd(u.cost_micros)]),
        ]),
      );
      return 0;
    }
    default:
      out('usage: finance reconciliation|holds|usage|expired [--from ISO] [--to ISO] [--account ID] [--state S] [--limit N] [--csv] [--json]');
      return command === 'help' ? 0 : 2;
  }
}

if (require.main === module) {
  run(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`finance: ${err.message}\n`);
      process.exit(2);
    },
  );
}
