import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DomainError, isTransientDbError, type Pricing, type RequestLogEntry, type RequestLookup } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import { createPgPool, type PgPool, type PrismaClient } from '@gateway/db';
import { CONFIG, PRISMA } from '../shared/tokens';

export interface RequestLogFilter {
  account_id?: string;
  request_id?: string;
  key_id?: string;
  model?: string;
  /** a status code, or 'ok' (< 400) / 'error' (>= 400) */
  status?: string;
  /** created_at cursor: rows strictly older */
  before?: string;
  limit?: number;
}

/** at most this many rows wait for the database; beyond it the oldest are dropped (and counted) */
const MAX_PENDING = 20_000;
const FLUSH_MS = 250;
const BATCH = 1_000;
/** how often old rows are pruned (each replica does; a DELETE of what another already deleted is a no-op) */
const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_BATCH = 10_000;

// the batch goes as one JSON text (JSON.stringify is native; pg's text encoding of sixteen arrays, element by
// element in JavaScript, was ~3.5 kB of garbage a call in ingress); exported for scripts/bench-ids.js
export const REQUEST_LOG_INSERT = `
  INSERT INTO request_log (request_id, account_id, key_id, method, path, model, status, error_code, latency_ms, stream, cache, channel_id,
                           input_tokens, output_tokens, cost_micros, created_at)
  SELECT r.request_id, r.account_id, r.key_id, r.method, r.path, r.model, r.status, r.error_code, r.latency_ms, r.stream, r.cache, r.channel_id,
         r.input_tokens, r.output_tokens, r.cost_micros, r.created_at
    FROM json_to_recordset($1::json) AS r(request_id text, account_id text, key_id text, method text, path text, model text, status int,
                                          error_code text, latency_ms int, stream boolean, cache text, channel_id text, input_tokens int,
                                          output_tokens int, cost_micros bigint, created_at timestamptz)
  ON CONFLICT (request_id) DO NOTHING`;

/**
 * The request log: one row per authenticated call, pushed when its response closes and written in
 * batches (one INSERT per batch, every 250 ms or 1,000 rows), so a call never waits on it. It is an
 * operations record: the money is in the ledger and usage records, written in the settle's transaction.
 * While Postgres is away rows wait (up to 20,000); a shutdown writes what is pending.
 */
@Injectable()
export class RequestLogService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RequestLog');
  private pending: RequestLogEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private dropped = 0;
  private pruner: NodeJS.Timeout | null = null;
  private readonly retentionDays: number;
  private readonly databaseUrl: string;
  private pool: PgPool | undefined;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(CONFIG) config: Pick<IngressConfig, 'REQUEST_LOG_RETENTION_DAYS' | 'DATABASE_URL'>,
  ) {
    this.retentionDays = config.REQUEST_LOG_RETENTION_DAYS;
    this.databaseUrl = config.DATABASE_URL;
  }

  onModuleInit(): void {
    if (this.retentionDays <= 0) return;
    this.pruner = setInterval(() => void this.prune().catch((err: Error) => this.logger.warn(`request log prune failed: ${err.message}`)), PRUNE_EVERY_MS);
    this.pruner.unref();
  }

  /**
   * Deletes rows older than the retention, at most 10,000 a statement (oldest first) until none is left,
   * so a backlog never holds a long lock. Resolves with how many it deleted.
   */
  async prune(now = new Date()): Promise<number> {
    if (this.retentionDays <= 0) return 0;
    const cutoff = new Date(now.getTime() - this.retentionDays * 86_400_000);
    let total = 0;
    for (;;) {
      const n = await this.prisma.$executeRaw`
        DELETE FROM request_log WHERE request_id IN (
          SELECT request_id FROM request_log WHERE created_at < ${cutoff} ORDER BY created_at LIMIT ${PRUNE_BATCH}::int)`;
      total += n;
      if (n < PRUNE_BATCH) return total;
    }
  }

  push(entry: RequestLogEntry): void {
    this.pending.push(entry);
    if (this.pending.length > MAX_PENDING) {
      const over = this.pending.length - MAX_PENDING;
      this.pending.splice(0, over);
      this.dropped += over;
    }
    if (this.pending.length >= BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes everything pending, a batch at a time; resolves when written (or failed and kept for a retry). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing) return this.flushing.then(() => (this.pending.length ? this.flush() : undefined));
    if (this.pending.length === 0) return Promise.resolve();
    const batch = this.pending.splice(0, BATCH);
    this.flushing = this.write(batch)
      .catch((err: Error) => (isTransientDbError(err) ? Promise.reject(err) : this.writeRowByRow(batch)))
      .then(
        () => true,
        (err: Error) => {
          this.pending.unshift(...batch);
          this.logger.warn(`request log: ${this.pending.length} rows wait for the database (${err.message})`);
          return false;
        },
      )
      .then((written) => {
        this.flushing = null;
        if (this.dropped) {
          this.logger.warn(`request log: ${this.dropped} rows dropped while the database was away`);
          this.dropped = 0;
        }
        if (written && this.pending.length) return this.flush();
        if (this.pending.length && !this.timer) {
          this.timer = setTimeout(() => void this.flush(), FLUSH_MS * 4);
          this.timer.unref();
        }
      });
    return this.flushing;
  }

  /**
   * A batch Postgres refused for what it holds (not for a lost connection): its rows one by one, so one row it
   * can never take does not hold back the log; such a row is dropped and logged. Rejects (and the batch waits)
   * only if the database went away meanwhile.
   */
  private async writeRowByRow(rows: RequestLogEntry[]): Promise<void> {
    let refused = 0;
    for (const row of rows) {
      try {
        await this.write([row]);
      } catch (err) {
        if (isTransientDbError(err)) throw err;
        refused++;
        this.logger.error(`request log: row ${row.request_id} refused by the database and dropped (${(err as Error).message})`);
      }
    }
    if (refused) this.logger.warn(`request log: ${refused} of ${rows.length} rows of a batch refused and dropped; the rest written`);
  }

  /**
   * One INSERT of the whole batch, its rows as one JSON text, through `pg` on a pool of its own (at most 2
   * connections): through Prisma the same statement cost about 0.3 ms of ingress CPU a row. The log is
   * observability, not money: its commits do not wait for the WAL flush (a Postgres crash may lose the last
   * fraction of a second of rows, as an ingress crash loses the rows still in memory), so each batch costs
   * Postgres no disk sync of its own.
   */
  private async write(rows: RequestLogEntry[]): Promise<void> {
    this.pool ??= createPgPool(this.databaseUrl, 2, { allowExitOnIdle: true, options: '-c synchronous_commit=off' });
    await this.pool.query({ name: 'gw_request_log_insert_json', text: REQUEST_LOG_INSERT, values: [JSON.stringify(rows)] });
  }

  async onModuleDestroy(): Promise<void> {
    if (this.pruner) clearInterval(this.pruner);
    await this.flush().catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
  }

  /** Newest first. */
  async list(f: RequestLogFilter): Promise<{ data: RequestLogEntry[]; next_before: string | null }> {
    const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
    const where: Record<string, unknown> = {};
    if (f.account_id) where.accountId = f.account_id;
    if (f.request_id) where.requestId = f.request_id;
    if (f.key_id) where.keyId = f.key_id;
    if (f.model) where.model = f.model;
    if (f.status) {
      if (f.status === 'ok') where.status = { lt: 400 };
      else if (f.status === 'error') where.status = { gte: 400 };
      else if (/^\d{3}$/.test(f.status)) where.status = Number(f.status);
      else throw new DomainError('invalid_request', "status must be a status code, 'ok' or 'error'", 'status');
    }
    if (f.before) {
      const d = new Date(f.before);
      if (Number.isNaN(d.getTime())) throw new DomainError('invalid_request', `before is not an ISO 8601 time: ${f.before}`, 'before');
      where.createdAt = { lt: d };
    }
    const rows = await this.prisma.requestLog.findMany({ where, orderBy: [{ createdAt: 'desc' }, { requestId: 'desc' }], take: limit });
    const data = rows.map(view);
    return { data, next_before: rows.length === limit ? data[data.length - 1].created_at : null };
  }

  /** One call, with its usage record when it was billed: tokens, cost, and the unit prices it was charged at. */
  async get(requestId: string, accountId?: string): Promise<RequestLookup | null> {
    const row = await this.prisma.requestLog.findUnique({ where: { requestId } });
    if (!row || (accountId && row.accountId !== accountId)) return null;
    type Row = Omit<NonNullable<RequestLookup['usage']>, 'cost_micros' | 'price_id' | 'unit_prices'> & { cost_micros: bigint; price_id: bigint | null; unit_prices: Pricing | null };
    const [u] = await this.prisma.$queryRaw<Row[]>`
      SELECT u.input_tokens, u.cached_input_tokens, u.output_tokens, u.reasoning_tokens, u.cache_write_tokens, u.cache_write_1h_tokens,
             u.web_searches, u.cost_micros, u.price_id, COALESCE(mp.pricing, f.pricing) AS unit_prices
        FROM usage_records u
        LEFT JOIN model_prices mp ON mp.id = u.price_id
        LEFT JOIN LATERAL (
          SELECT f.pricing FROM model_prices f
           WHERE u.price_id IS NULL AND f.model_id = u.model AND f.changed_at <= u.created_at
           ORDER BY f.id DESC LIMIT 1
        ) f ON true
       WHERE u.request_id = ${requestId} AND u.account_id = ${row.accountId}`;
    return { ...view(row), usage: u ? { ...u, cost_micros: Number(u.cost_micros), price_id: u.price_id === null ? null : Number(u.price_id), unit_prices: u.unit_prices ?? {} } : null };
  }

  /** Per channel, in the last `minutes`: calls it served and how many of them failed (status >= 500). */
  async channelOutcomes(minutes: number): Promise<Map<string, { requests: number; errors: number }>> {
    const since = new Date(Date.now() - minutes * 60_000);
    const rows = await this.prisma.$queryRaw<Array<{ channel_id: string; requests: bigint; errors: bigint }>>`
      SELECT channel_id, COUNT(*) AS requests, COUNT(*) FILTER (WHERE status >= 500) AS errors
        FROM request_log WHERE channel_id IS NOT NULL AND created_at >= ${since} GROUP BY channel_id`;
    return new Map(rows.map((r) => [r.channel_id, { requests: Number(r.requests), errors: Number(r.errors) }]));
  }
}

type Row = Awaited<ReturnType<PrismaClient['requestLog']['findUnique']>> & object;

function view(r: Row): RequestLogEntry {
  return {
    request_id: r.requestId,
    account_id: r.accountId,
    key_id: r.keyId,
    method: r.method,
    path: r.path,
    model: r.model,
    status: r.status,
    error_code: r.errorCode,
    latency_ms: r.latencyMs,
    stream: r.stream,
    cache: (r.cache as RequestLogEntry['cache']) ?? null,
    channel_id: r.channelId,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cost_micros: Number(r.costMicros),
    created_at: r.createdAt.toISOString(),
  };
}
