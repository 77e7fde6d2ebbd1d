import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { IngressConfig } from '@gateway/config';
import { createLogger } from '@gateway/logging';
import { counter, gauge, initMetrics, register, startOpsServer, type OpsServer } from '@gateway/ops';
import { IPC, type AnswerMessage, type OpsQuestion } from './worker-ops';

/** one registry's metrics as prom-client's getMetricsAsJSON() gives them (its typings call `type` an enum; it is a string) */
type MetricsJson = Array<{ name: string; type: string; values: unknown[] }>;

/** a worker that does not answer a metrics or readiness question within this counts as not answering */
const ASK_TIMEOUT_MS = 2000;
/** a replacement worker that dies sooner than this after its fork is forked again after a growing pause */
const QUICK_DEATH_MS = 10_000;
const RESTART_PAUSE_MIN_MS = 500;
const RESTART_PAUSE_MAX_MS = 30_000;
/** how long the first workers may take to listen before the primary gives up */
const START_TIMEOUT_MS = 60_000;

/**
 * Registries' metrics summed into one, at once: AggregatorRegistry.aggregate registers each summed metric as
 * an object whose get() returns it synchronously, so no scrape can run between a worker's exit and its
 * counters joining the retired sum.
 */
function sum(parts: MetricsJson[]): MetricsJson {
  return AggregatorRegistry.aggregate(parts)
    .getMetricsAsArray()
    .map((m) => (m as unknown as { get(): MetricsJson[number] }).get());
}

interface Slot {
  /** 1..INGRESS_WORKERS: a replacement takes the slot of the worker it replaces */
  index: number;
  worker?: Worker;
  listening: boolean;
  forkedAt: number;
  /** workers forked in this slot so far */
  forks: number;
  /** replacements in a row that died within QUICK_DEATH_MS of their fork */
  quickDeaths: number;
  restart?: NodeJS.Timeout;
}

interface Pending {
  workerId: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Ingress as a cluster (INGRESS_WORKERS > 1): this primary serves no calls. It forks the workers, which
 * share PORT through node:cluster (the primary accepts connections and hands them out in turn; set
 * NODE_CLUSTER_SCHED_POLICY=none to let the kernel spread them instead) and each run the whole ingress
 * (main.ts). Everything a call's correctness rests on is already shared between replicas in Redis and
 * Postgres (admission, leases, the outbox, idempotency, breakers), so workers are replicas on one port.
 *
 * The primary owns OPS_PORT: /metrics is the sum of the workers' registries and its own (process metrics,
 * worker counts and restarts; the counters of a worker that died are kept at their last scrape, so a
 * total never goes back), /health/ready is ready while no shutdown runs, at least one worker listens and
 * every listening worker's checks pass. A worker that dies is forked again, at once the first time and after
 * a pause doubling from 0.5 s to 30 s while replacements keep dying within 10 s. SIGTERM / SIGINT: every
 * worker drains as a single ingress does (running calls and streams finish, new calls get a 503), and the
 * primary exits when they all have: 0 if every worker exited 0. A worker that cannot start (before the first
 * "listening") stops the whole start with exit code 1.
 */
export async function runPrimary(config: IngressConfig): Promise<void> {
  const logger = createLogger('ingress', config.LOG_LEVEL).child({ role: 'cluster-primary' });
  initMetrics('ingress', config.METRICS_LOOP_RESOLUTION_MS);
  const slots: Slot[] = Array.from({ length: config.INGRESS_WORKERS }, (_, i) => ({ index: i + 1, listening: false, forkedAt: 0, forks: 0, quickDeaths: 0 }));
  const listeningNow = () => slots.filter((s) => s.listening && s.worker?.isConnected());
  gauge('gateway_ingress_workers', 'ingress cluster workers: configured (INGRESS_WORKERS) and listening now', ['state'], function () {
    this.set({ state: 'configured' }, slots.length);
    this.set({ state: 'listening' }, listeningNow().length);
  });
  const restarts = counter('gateway_ingress_worker_restarts_total', 'ingress cluster workers forked again after one died', []);

  const pending = new Map<number, Pending>();
  let asked = 0;
  /** each worker's last metrics answer, by worker id: what it counted is kept when it dies */
  const lastMetrics = new Map<number, MetricsJson>();
  /** the counters and histograms of the workers that died, at their last scrape, summed */
  let retired: MetricsJson = [];
  let started = false;
  /** the start failed: the workers left are being killed, their exits are not a shutdown's */
  let failed = false;
  let restartCount = 0;
  let stopping = false;
  let ops: OpsServer | undefined;

  const ask = (worker: Worker, what: OpsQuestion): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++asked;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`no answer within ${ASK_TIMEOUT_MS} ms`));
      }, ASK_TIMEOUT_MS);
      pending.set(id, { workerId: worker.id, resolve, reject, timer });
      worker.send({ type: IPC.ask, id, what }, undefined, (err) => {
        if (!err || !pending.delete(id)) return;
        clearTimeout(timer);
        reject(err);
      });
    });

  const answered = (m: AnswerMessage) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.value);
  };

  const metrics = async (): Promise<string> => {
    const answers = await Promise.all(
      listeningNow().map(async (s) => {
        const w = s.worker!;
        try {
          const json = (await ask(w, 'metrics')) as MetricsJson;
          lastMetrics.set(w.id, json);
          return json;
        } catch {
          return lastMetrics.get(w.id); // a late or failed answer: its last one, so no total goes back
        }
      }),
    );
    const own = (await register.getMetricsAsJSON()) as unknown as MetricsJson;
    const parts = [own, retired, ...answers.filter((a): a is MetricsJson => a !== undefined)];
    return AggregatorRegistry.aggregate(parts).metrics();
  };

  const ready = async (): Promise<{ ready: boolean; body: object }> => {
    const live = listeningNow();
    const answers = await Promise.all(
      live.map((s) =>
        ask(s.worker!, 'ready').then(
          (r) => r as { ready: boolean; checks: Record<string, string> },
          (err: Error) => ({ ready: false, checks: { worker: err.message } }),
        ),
      ),
    );
    const checks: Record<string, string> = {};
    answers.forEach((a, i) => {
      for (const [name, state] of Object.entries(a.checks)) {
        if (state === 'ok') checks[name] ??= 'ok';
        else if (checks[name] === undefined || checks[name] === 'ok') checks[name] = `worker ${live[i].index}: ${state}`;
      }
    });
    if (stopping) checks.draining = 'draining: not taking new calls';
    const isReady = !stopping && live.length > 0 && answers.every((a) => a.ready);
    const workers = { configured: slots.length, listening: live.length, restarts: restartCount };
    return { ready: isReady, body: { status: isReady ? 'ok' : 'unavailable', checks, workers } };
  };
  let startDone: (err?: Error) => void = () => undefined;
  const start = new Promise<void>((resolve, reject) => (startDone = (err) => (err ? reject(err) : resolve())));

  const fork = (slot: Slot) => {
    slot.restart = undefined;
    const worker = cluster.fork();
    slot.worker = worker;
    slot.listening = false;
    slot.forkedAt = Date.now();
    slot.forks++;
    worker.on('message', (m: { type?: string }) => {
      if (m?.type === IPC.answer) answered(m as AnswerMessage);
      else if (m?.type === IPC.listening) {
        slot.listening = true;
        logger.info({ slot: slot.index, worker_pid: worker.process.pid }, 'ingress worker listening');
        if (!started && slots.every((s) => s.listening)) startDone();
      }
    });
    worker.on('exit', (code, signal) => onExit(slot, worker, code, signal));
  };

  const exits: Array<number | null> = [];
  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker === worker) slot.listening = false;
    for (const [id, p] of pending) {
      if (p.workerId !== worker.id) continue;
      pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new Error('the worker exited'));
    }
    const last = lastMetrics.get(worker.id);
    lastMetrics.delete(worker.id);
    if (last) retired = sum([retired, last.filter((m) => m.type === 'counter' || m.type === 'histogram')]);
    const what = { slot: slot.index, worker_pid: worker.process.pid, code, signal };
    if (failed) return;
    if (stopping) {
      exits.push(signal ? null : code);
      logger.info(what, 'ingress worker exited');
      if (slots.every((s) => !s.worker || s.worker.isDead())) finish();
      return;
    }
    if (!started) {
      startDone(new Error(`worker ${slot.index} exited before it listened (${signal ?? `code ${code}`})`));
      return;
    }
    // a first worker's death, or a worker's that ran a while, is replaced at once; a replacement that dies soon
    // after its start (a crash loop: a bad dependency, a bug every call hits) waits longer each time
    const quick = slot.forks > 1 && Date.now() - slot.forkedAt < QUICK_DEATH_MS;
    slot.quickDeaths = quick ? slot.quickDeaths + 1 : 0;
    const pause = slot.quickDeaths === 0 ? 0 : Math.min(RESTART_PAUSE_MAX_MS, RESTART_PAUSE_MIN_MS * 2 ** (slot.quickDeaths - 1));
    restartCount++;
    restarts.inc();
    logger.error({ ...what, restart_in_ms: pause }, 'ingress worker died; forking another');
    slot.restart = setTimeout(() => fork(slot), pause);
  };

  let hard: NodeJS.Timeout | undefined;
  const finish = () => {
    if (hard) clearTimeout(hard);
    const clean = exits.every((c) => c === 0);
    logger.info({ workers: exits.length, clean }, 'shutdown: complete');
    void (ops ? ops.close() : Promise.resolve()).finally(() => process.exit(clean ? 0 : 1));
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: listeningNow().length }, 'shutdown: draining every worker');
    for (const s of slots) if (s.restart) clearTimeout(s.restart);
    // a worker drains as a single ingress does (shared/drain.ts) and exits within SHUTDOWN_GRACE_MS; beyond
    // that and a margin, what is left is killed
    hard = setTimeout(() => {
      logger.error('shutdown: workers still running after the grace period; killing them');
      for (const s of slots) s.worker?.process.kill('SIGKILL');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 5000);
    const alive = slots.filter((s) => s.worker && !s.worker.isDead());
    if (alive.length === 0) return finish();
    for (const s of alive) s.worker!.process.kill('SIGTERM');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  slots.forEach(fork);
  const timeout = setTimeout(() => startDone(new Error(`the workers did not all listen within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  try {
    await start;
  } catch (err) {
    failed = true;
    for (const s of slots) s.worker?.process.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timeout);
  }
  started = true;
  ops = await startOpsServer({ port: config.OPS_PORT, checks: {}, metrics, ready });
  process.stdout.write(`[ingress] listening on http://${config.HOST}:${config.PORT} with ${slots.length} workers${ops ? `, ops on :${ops.port}` : ''}\n`);
}
