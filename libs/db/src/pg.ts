import { isTransientDbError } from '@gateway/contracts';
import { Pool, type PoolConfig, type QueryResultRow } from 'pg';

/**
 * The hot money statements go through pg directly (Prisma's query runtime costs about twice the
 * statement itself there); Prisma stays the schema, the migrations and every other query.
 */
export function createPgPool(databaseUrl: string, max = 10, extra: PoolConfig = {}): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max, idleTimeoutMillis: 30_000, ...extra });
  // an idle client whose server went away (Postgres restarted) emits here; the pool drops it
  pool.on('error', () => undefined);
  return pool;
}

export interface RetryOptions {
  /** epoch ms after which the last error is thrown; Infinity: retry while `keepGoing()` says so */
  until: number;
  keepGoing?: () => boolean;
  onRetry?: (err: unknown, attempt: number) => void;
}

/** Runs fn, and again on a fresh connection after a transient failure, backing off from 20 ms to 1 s. */
export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = Math.min(1000, 20 * 2 ** (attempt - 1));
      if (!isTransientDbError(err) || Date.now() + wait > opts.until || (opts.keepGoing && !opts.keepGoing())) throw err;
      opts.onRetry?.(err, attempt);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

export type { Pool as PgPool, QueryResultRow };
