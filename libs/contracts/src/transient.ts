// Which failures are the infrastructure's, not the request's: safe to retry, and a 503 to a client.

const TRANSIENT_CODES = new Set([
  '57P01', // admin_shutdown: the server is restarting
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  'P2024', // Prisma: timed out fetching a connection from its pool
  'P2028', // Prisma: a transaction could not start in time (its pool was busy); it never began
]);
const TRANSIENT_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN']);
const TRANSIENT_TEXT = /Connection is closed|Reached the max retries per request limit|Stream isn't writeable|terminat(ed|ing) connection|Connection terminated|connection (is )?closed|Client has encountered a connection error|server closed the connection|the database system is (starting up|shutting down|in recovery mode)|Can't reach database server|timeout exceeded when trying to connect|ECONNREFUSED|ECONNRESET/i;

/**
 * True when a statement failed because the connection or the server went away (a restart, a network
 * blip), not because of what it asked: safe to run again on a fresh connection when the statement is
 * idempotent. Recognises pg's errors and Prisma's wrapping of them.
 */
export function isTransientDbError(err: unknown): boolean {
  // (Redis clients' connection errors are recognised too: the same rule, a 503 and a retry, applies)
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const x = e as { code?: unknown; message?: unknown; cause?: unknown; meta?: { code?: unknown } };
    if (typeof x.code === 'string' && (TRANSIENT_CODES.has(x.code) || TRANSIENT_NET.has(x.code))) return true;
    if (typeof x.meta?.code === 'string' && TRANSIENT_CODES.has(x.meta.code)) return true;
    if (typeof x.message === 'string' && TRANSIENT_TEXT.test(x.message)) return true;
    e = x.cause;
  }
  return false;
}


/** what a client is told when a value it sent cannot be stored as text (a NUL character) */
export const UNSTORABLE_TEXT_MESSAGE = 'A value in this request holds a NUL character (\\u0000), which the gateway cannot store or look up.';

/**
 * True when Postgres refused a statement because a text value holds a character it cannot store: a NUL
 * (0x00) in text, or \u0000 in JSON. That is the request's fault, not the server's: a 400, not a 500.
 */
export function isUnstorableTextError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const x = e as { code?: unknown; message?: unknown; cause?: unknown; meta?: { code?: unknown }; originalCode?: unknown };
    for (const c of [x.code, x.meta?.code, x.originalCode]) if (c === '22021' || c === '22P05') return true;
    if (typeof x.message === 'string' && /invalid byte sequence for encoding "UTF8": 0x00|unsupported Unicode escape sequence/.test(x.message)) return true;
    e = x.cause;
  }
  return false;
}
