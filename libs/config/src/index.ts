import { availableParallelism } from 'node:os';
import { z } from 'zod';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/gateway';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** WEBHOOK_SECRET when none is set: for development only, since anyone can read it here */
export const DEV_WEBHOOK_SECRET = 'dev-only-webhook-secret-change-me';

const int = (def: number) => z.coerce.number().int().nonnegative().default(def);

/**
 * the most ADMIT_AHEAD_MS may be: the rate limit's request set is kept this much longer than its window, so a
 * slot taken ahead (scored up to this late) is never dropped before its call leaves the window
 */
export const ADMIT_AHEAD_MAX_MS = 5000;

const flag = (def: boolean) =>
  z
    .enum(['on', 'off', 'true', 'false', '1', '0'])
    .default(def ? 'on' : 'off')
    .transform((v) => v === 'on' || v === 'true' || v === '1');

/** Settings every service reads. */
export const baseConfigSchema = z.object({
  DATABASE_URL: z.string().url().default(DEFAULT_DATABASE_URL),
  REDIS_URL: z.string().url().default(DEFAULT_REDIS_URL),
  /** namespaces every Redis key and channel, so several gateways (or test runs) can share one Redis */
  REDIS_PREFIX: z.string().default('gw:'),
  RPC_TIMEOUT_MS: int(5000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** on SIGTERM, how long in-flight work may take to finish before the process exits anyway; below compose's stop_grace_period (30 s) */
  SHUTDOWN_GRACE_MS: int(25_000),
  /**
   * how often the event-loop delay behind gateway_nodejs_eventloop_lag_* is sampled (prom-client's
   * eventLoopMonitoringPrecision, a libuv timer): its default of 10 ms woke every service, idle or not, 100
   * times a second; a stall still shows as long as it spans a sample
   */
  METRICS_LOOP_RESOLUTION_MS: z.coerce.number().int().min(1).default(100),
});

export const ingressConfigSchema = baseConfigSchema.extend({
  /** the ops HTTP port (/metrics, /health/live, /health/ready); 0 turns it off */
  OPS_PORT: int(9100),
  PORT: int(8080),
  HOST: z.string().default('0.0.0.0'),
  /**
   * how many processes serve PORT (node:cluster): 1 runs ingress as one process, as before; more starts a
   * primary that forks that many workers sharing the port, forks a worker again when one dies, aggregates
   * their metrics and readiness on OPS_PORT and drains them all on SIGTERM. auto: one per core
   * (os.availableParallelism()). See apps/ingress/src/cluster/primary.ts.
   */
  INGRESS_WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(64)])
    .default(1)
    .transform((v) => (v === 'auto' ? availableParallelism() : v)),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  /** a read-only admin token for finance (reports, holds, accounts, the audit log); unset or empty: no finance access */
  FINANCE_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(16, 'FINANCE_TOKEN must be at least 16 characters').optional()),
  /** how long a resolved key may be used without asking billing again; revocations also arrive by pub/sub */
  KEY_CACHE_TTL_MS: int(1000),
  MODEL_CACHE_TTL_MS: int(5000),
  /** how long past its TTL a model entry is still served while a background reload replaces it (0: the call waits) */
  MODEL_CACHE_STALE_MS: z.coerce.number().int().min(0).default(60_000),
  /** a key or model seen this recently is still served while billing or models cannot answer (0: never) */
  STALE_ON_ERROR_MS: int(60_000),
  UPSTREAM_TIMEOUT_MS: int(120_000),
  /** default output bound when neither the request nor the model says */
  DEFAULT_MAX_OUTPUT_TOKENS: int(4096),
  /** how long a stream whose client went away is still read, to learn the upstream's usage for the whole call */
  CLIENT_GONE_DRAIN_MS: int(600_000),
  BODY_LIMIT_BYTES: int(25 * 1024 * 1024),
  /** how long an Idempotency-Key stays locked by a request that never finished (a crashed ingress) */
  IDEMPOTENCY_LEASE_MS: int(10 * 60_000),
  /** limits for keys that have none of their own */
  DEFAULT_RPM: int(3000),
  DEFAULT_TPM: int(10_000_000),
  /** the rate limits' window: rpm counts the requests of the last RATE_WINDOW_MS (sliding), tpm per fixed window */
  RATE_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  /** consecutive failures (connect error, timeout, 429, 5xx) that open a channel's circuit breaker (0: no breaker) */
  BREAKER_FAILURES: int(3),
  /** how long an open channel is skipped before one probe call is let through (an upstream Retry-After may lengthen it) */
  BREAKER_COOLDOWN_MS: int(30_000),
  /**
   * how long this replica trusts its own last reading that a channel is healthy (closed, no failures) before
   * asking Redis again (0: ask on every call); failures seen here are shared at once, another replica's within this
   */
  BREAKER_LOCAL_MS: int(250),
  /** the wait before the one same-channel retry after a connect error or timeout */
  UPSTREAM_RETRY_BACKOFF_MS: int(200),
  /** a task still unfinished this long after creation fails and is released */
  TASK_DEADLINE_MS: int(30 * 60_000),
  /** the life of a call's hold from its last extension; keep equal to billing's HOLD_TTL_MS */
  HOLD_TTL_MS: int(10 * 60_000),
  /** how often the holds of calls still running are extended (0: a third of HOLD_TTL_MS) */
  HOLD_EXTEND_INTERVAL_MS: int(0),
  /**
   * credit leases: a call's hold is drawn in Redis from a lease billing granted the account (one Postgres
   * row per lease, not per call, on the call's path); off: every hold is placed in billing
   */
  HOLD_LEASE: flag(true),
  /** the most a lease reserves (billing also caps it at a LEASE_SHARE-th of the available balance) */
  LEASE_MAX_MICROS: int(50_000_000),
  /** a lease is only taken if it covers at least this many holds of the size of the call asking for it */
  LEASE_MIN_DRAWS: int(20),
  /**
   * how long a finished call's settle waits in ingress for the next call's admission script to carry it to
   * the settle outbox (one Redis round trip fewer a call under a steady flow); 0: appended at the end of its tick
   */
  OUTBOX_RIDE_MS: int(5),
  /**
   * admission one call ahead: when a key whose rpm is at least ADMIT_AHEAD_MIN_RPM makes a call that draws from
   * its account's lease, the same admission script also admits and draws for that key's next call, valid this
   * long; the next call then starts without waiting on Redis, and its own script (not waited for) admits the
   * one after it. 0: off. At most ADMIT_AHEAD_MAX_MS.
   */
  ADMIT_AHEAD_MS: z.coerce.number().int().min(0).max(ADMIT_AHEAD_MAX_MS).default(1000),
  /**
   * how many admissions ahead one ask takes when the key's calls come fast (each used within a quarter of
   * ADMIT_AHEAD_MS of its ask): with 2, a key calling in sequence needs an admission script every second call,
   * not every call (one Redis round trip and one wake-up of ingress and Redis fewer a call at a steady rate).
   * 1: one at a time.
   */
  ADMIT_AHEAD_BATCH: z.coerce.number().int().min(1).max(4).default(2),
  /** keys with a lower rpm are admitted one call at a time (a slot taken ahead and not used would be a visible share of their limit) */
  ADMIT_AHEAD_MIN_RPM: int(1000),
  /** how long calls draw from one lease before the next is granted and it is closed (0: the lesser of 30 s and a quarter of HOLD_TTL_MS) */
  LEASE_DRAW_MS: int(0),
  /**
   * batched: the JSON answers that calls finish in one turn of the event loop are written together at its end,
   * once the turn before finished several calls (a client woken by the first is still awake for the rest; on
   * loopback the wake-up is most of a write's cost); immediate: each as its call finishes.
   * See apps/ingress/src/conversation/answer-writes.ts.
   */
  ANSWER_WRITES: z.enum(['batched', 'immediate']).default('batched'),
  /** the response cache's TTL for a request that sends `X-TT-Cache: on` from a key with no cache_ttl_s of its own */
  CACHE_DEFAULT_TTL_S: int(300),
  /** a response (a whole stream included) larger than this is not stored in the response cache */
  CACHE_MAX_ENTRY_BYTES: int(1024 * 1024),
  /** the BullMQ dashboard at /admin/queues (bull-board, behind the admin token) */
  QUEUE_UI: flag(true),
  /** let the dashboard change queues (retry, clean, pause, remove jobs…); off: read-only */
  QUEUE_UI_WRITE: flag(false),
  /** write the request log (one row per call, in batches); off: the console's request pages stay empty */
  REQUEST_LOG: flag(true),
  /** rows of the request log older than this many days are deleted (0: kept for ever); the money records are never */
  REQUEST_LOG_RETENTION_DAYS: int(30),
});

export const billingConfigSchema = baseConfigSchema.extend({
  /** the ops HTTP port (/metrics, /health/live, /health/ready); 0 turns it off */
  OPS_PORT: int(9101),
  /** group commit of holds and settlements (several per transaction) */
  BILLING_BATCH: flag(true),
  HOLD_TTL_MS: int(10 * 60_000),
  /** a credit lease reserves at most this fraction (1/LEASE_SHARE) of an account's available balance */
  LEASE_SHARE: z.coerce.number().int().positive().default(10),
  /** how long a credit lease lives if it is never closed (0: HOLD_TTL_MS); ingress stops drawing well before */
  LEASE_TTL_MS: int(0),
  SWEEP_INTERVAL_MS: int(5000),
  /**
   * fast: a hold's commit does not wait for the WAL flush (about 1 ms less per call). A Postgres crash
   * (not a clean restart) may then lose holds of the last moment; their calls are still charged in full
   * by their settles, which are always durable. durable: every hold waits for the flush.
   */
  HOLD_COMMIT: z.enum(['fast', 'durable']).default('fast'),
  /** drain the settle outbox in this instance (off only for tests that drive billing by RPC alone) */
  OUTBOX_CONSUMER: flag(true),
  /** most outbox entries read at once */
  OUTBOX_BATCH: int(500),
  /** an entry another consumer took and left unacknowledged this long is claimed (its consumer died) */
  OUTBOX_CLAIM_IDLE_MS: int(10_000),
  /**
   * after applying a batch smaller than OUTBOX_BATCH, wait this long before reading again, so that the next
   * batch carries more settles (fewer statements, fences and round trips per call); settles are off the
   * response path, so no client waits for it (0: read again at once). 50 ms: at a few hundred calls a second
   * billing and Postgres then wake 20 times a second, not a hundred, and leave the cores to the calls
   */
  OUTBOX_LINGER_MS: int(50),
  /**
   * signs webhooks (X-TT-Signature: HMAC-SHA256); the default is for development only: set a secret of
   * your own and give it to the receivers
   */
  WEBHOOK_SECRET: z.string().min(16, 'WEBHOOK_SECRET must be at least 16 characters').default(DEV_WEBHOOK_SECRET),
  /** how often this instance looks for webhooks due (0: it delivers none) */
  WEBHOOK_INTERVAL_MS: int(1000),
  /** the wait after a webhook's first failed attempt, doubling on each failure up to an hour */
  WEBHOOK_RETRY_MIN_MS: int(5000),
});

export const modelsConfigSchema = baseConfigSchema.extend({
  /** the ops HTTP port (/metrics, /health/live, /health/ready); 0 turns it off */
  OPS_PORT: int(9102),
});

export const mockUpstreamConfigSchema = z.object({
  MOCK_PORT: int(8090),
  MOCK_HOST: z.string().default('127.0.0.1'),
  MOCK_LATENCY_MS: int(0),
  MOCK_CHUNK_DELAY_MS: int(0),
});

export const workerConfigSchema = baseConfigSchema.extend({
  /** the ops HTTP port (/metrics, /health/live, /health/ready); 0 turns it off */
  OPS_PORT: int(9103),
  /** which task queues this process serves, comma separated; empty or "all" for every queue */
  ACTIVE_QUEUES: z.string().default('all'),
  WORKER_CONCURRENCY: int(4),
  /** how long a job's lock lasts without renewal: a killed worker's job is taken over after about this */
  WORKER_LOCK_MS: int(8000),
  /**
   * how often a worker looks for jobs whose lock lapsed; a killed worker's job resumes within about
   * WORKER_LOCK_MS + WORKER_STALLED_CHECK_MS (12 s). Shorter costs more Redis calls (a lock renewal every
   * WORKER_LOCK_MS / 2 per running job, a stalled scan per queue per interval) and risks a job being taken
   * from a worker whose event loop stalls longer than WORKER_LOCK_MS.
   */
  WORKER_STALLED_CHECK_MS: int(4000),
  /** first and longest wait between two polls of an upstream job (doubling in between) */
  POLL_MIN_MS: int(500),
  POLL_MAX_MS: int(5000),
  /** consecutive transient upstream errors tolerated while polling */
  POLL_MAX_ERRORS: int(8),
  /** a repair pass costs tens of ms of CPU (queries and queue scans) on every worker: not too often */
  REPAIR_INTERVAL_MS: int(30_000),
  /**
   * an active task hold this old with no task row is an orphan (the reply was lost, or ingress died between
   * the hold and the task row) and the repair loop releases it; far above the moments between the two
   */
  TASK_HOLD_ORPHAN_MS: int(120_000),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;
export type IngressConfig = z.infer<typeof ingressConfigSchema>;
export type BillingConfig = z.infer<typeof billingConfigSchema>;
export type ModelsConfig = z.infer<typeof modelsConfigSchema>;
export type MockUpstreamConfig = z.infer<typeof mockUpstreamConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export class ConfigError extends Error {}

/** Parses the environment once; a missing or bad value names itself. */
export function parseConfig<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return result.data;
}

/** For a process entry point: parse or print one line and exit. */
export function loadConfigOrExit<S extends z.ZodTypeAny>(schema: S, service: string): z.infer<S> {
  try {
    return parseConfig(schema);
  } catch (err) {
    process.stderr.write(`[${service}] ${(err as Error).message}\n`);
    process.exit(78);
  }
}
export * from './log-levels';
