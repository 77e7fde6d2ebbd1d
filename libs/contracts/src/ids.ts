import { randomBytes } from 'node:crypto';

/** Sortable-enough, prefixed ids: `hold_` + 20 random base32-ish chars. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(15).toString('base64url')}`;
}
