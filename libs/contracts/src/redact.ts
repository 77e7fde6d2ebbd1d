// What an audit entry (or any record kept for people to read) may never hold: key material.

const SECRET_FIELD = /^(key|api_?key|key_?hash|secret|password|token|authorization)$|(_|^)(api_?key|secret|password|token)$/i;
const KEY_TEXT = /\b(sk|adm|fin)-[A-Za-z0-9_-]{8,}/g;
export const REDACTED = '[redacted]';

/**
 * A copy of value with every field that names a secret (`key`, `api_key`, `secret`, `token`…) replaced by
 * "[redacted]", and any `sk-…` key text inside strings masked; other fields are kept as they are.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, 0) as T;
}

function redact(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(KEY_TEXT, REDACTED);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) && v !== null && v !== undefined ? REDACTED : redact(v, depth + 1);
  }
  return out;
}
