// Money is integer micros (1 USD = 1,000,000) everywhere in data. These helpers only format micros for
// display and parse what a person typed into micros with string arithmetic: no float math on money we send.

const MICROS_DIGITS = 6;

/** `$12.345678`, `$12.5`, `$5`, `-$0.000021`: exact micros, trailing zeros trimmed. */
export function formatUsd(micros: number | null | undefined): string {
  if (micros === null || micros === undefined || !Number.isFinite(micros)) return '—';
  const negative = micros < 0;
  const digits = String(Math.abs(Math.trunc(micros))).padStart(MICROS_DIGITS + 1, '0');
  const whole = digits.slice(0, -MICROS_DIGITS);
  const frac = digits.slice(-MICROS_DIGITS).replace(/0+$/, '');
  return `${negative ? '-' : ''}$${whole}${frac ? `.${frac}` : ''}`;
}

/** A signed amount for ledger columns: `+$1.00` / `-$0.20`. */
export function formatSignedUsd(micros: number): string {
  return micros > 0 ? `+${formatUsd(micros)}` : formatUsd(micros);
}

/** micros as a plain decimal USD string for an input field: `2.5`, `0.15`, `0` (no `$`, no padding). */
export function microsToUsdInput(micros: number | null | undefined): string {
  if (micros === null || micros === undefined) return '';
  const negative = micros < 0;
  const digits = String(Math.abs(Math.trunc(micros))).padStart(MICROS_DIGITS + 1, '0');
  const whole = digits.slice(0, -MICROS_DIGITS);
  const frac = digits.slice(-MICROS_DIGITS).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

export type ParseResult = { ok: true; micros: number } | { ok: false; error: string };

/**
 * Parses a USD amount as typed (`12`, `12.5`, `$0.000001`, `-3.20` when signed) into integer micros, by
 * string arithmetic. At most 6 decimals; the result must be a safe integer.
 */
export function parseUsdToMicros(input: string, opts: { signed?: boolean; label?: string } = {}): ParseResult {
  const label = opts.label ?? 'Amount';
  const s = input.trim().replace(/^\+/, '');
  if (s === '') return { ok: false, error: `${label} is required` };
  const m = /^(-)?\s*\$?\s*(\d*)(?:\.(\d*))?$/.exec(s.replace(/,/g, ''));
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return { ok: false, error: `${label} must be a number in USD, e.g. 12.50` };
  const negative = m[1] === '-';
  if (negative && !opts.signed) return { ok: false, error: `${label} must not be negative` };
  const frac = m[3] ?? '';
  if (frac.length > MICROS_DIGITS) return { ok: false, error: `${label} has more than 6 decimals (the smallest unit is $0.000001)` };
  const digits = `${m[2] || '0'}${frac.padEnd(MICROS_DIGITS, '0')}`.replace(/^0+(?=\d)/, '');
  if (digits.length > 16 || Number(digits) > Number.MAX_SAFE_INTEGER) return { ok: false, error: `${label} is too large` };
  const abs = Number(digits);
  return { ok: true, micros: negative && abs !== 0 ? -abs : abs };
}

/** a count with thousands separators */
export function formatInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US');
}
