import { hash, randomFillSync } from 'node:crypto';

// Random bytes drawn 4 KiB at a time: ids stay unguessable (120 random bits each) without a system
// call per id, which showed in the hot path's profile.
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

function draw(bytes: number, encoding: 'base64url' | 'hex'): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const s = POOL.toString(encoding, offset, offset + bytes);
  offset += bytes;
  return s;
}

/** `bytes` fresh random bytes, as base64url. */
export function randomToken(bytes: number): string {
  return draw(bytes, 'base64url');
}

/**
 * `bytes` fresh random bytes, as hex (the mock's and the Responses API's ids): from the same pool, where
 * `randomBytes(n).toString('hex')` made a system call per id (3.9 us against 0.4 measured apart; in the mock
 * upstream's CPU profile at open throttle, a tenth of its time).
 */
export function randomHex(bytes: number): string {
  return draw(bytes, 'hex');
}

// Crockford's base32, in ASCII order: a fixed-width number in it sorts as the number does, in byte order
// (the C collation) and in any collation that puts digits before letters (en_US too).
const TIME_DIGITS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastMs = -1;
let lastPrefix = '';

/**
 * The time part of an id: milliseconds since 1970 as 10 base32 characters (50 bits, past the year 30000),
 * so ids made later sort after ids made earlier, as ULIDs do. Computed once per millisecond.
 */
export function timePrefix(ms = Date.now()): string {
  if (ms === lastMs) return lastPrefix;
  let n = ms;
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = TIME_DIGITS[n % 32] + out;
    n = Math.floor(n / 32);
  }
  lastMs = ms;
  lastPrefix = out;
  return out;
}

/**
 * Prefixed ids: `hold_` + the time (10 characters, timePrefix) + 20 random base64url characters (120 bits,
 * as unguessable as before the time part). Time first, because these ids are keys of B-tree indexes written
 * on every call (holds, their ledger entries): a random key lands on any leaf of the index, and once the
 * index outgrows Postgres's buffer cache most inserts read and dirty a page that is not in it; a key in time
 * order lands on the rightmost leaves, which stay cached however large the table grows. `npm run bench:ids`
 * (1.2 million rows a table, docs/throughput-history.md): a call's settle and request-log row cost Postgres 123 us of
 * CPU with random ids, 57 with time-ordered ones.
 */
export function newId(prefix: string): string {
  return `${prefix}_${timePrefix()}${randomToken(15)}`;
}

/**
 * An API key as it is stored and looked up: the hex SHA-256 of its plaintext (billing stores it, ingress
 * looks it up on every call). crypto.hash, one call without a Hash object: about a third of createHash's time.
 */
export function hashKey(plaintext: string): string {
  return hash('sha256', plaintext, 'hex');
}
