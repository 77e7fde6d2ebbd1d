import { parseDirectives, sleep } from './directives';

// The clock behind the async-job upstreams (OpenAI videos, midjourney-proxy, BFL). A job holds only its
// submission time and the knobs read from its prompt; its state at any moment is computed from
// Date.now(), so it is deterministic given the clock and needs no timers:
//   [0, 10 %) of the duration  queued
//   [10 %, 100 %)              running, progress linear in elapsed time
//   >= duration                succeeded, or failed with [[mock:fail=1]]

export type JobPhase = 'queued' | 'running' | 'succeeded' | 'failed';

export const DEFAULT_JOB_DURATION_MS = 1500;
/** the share of the duration a job spends queued before it runs */
export const QUEUED_SHARE = 0.1;
export const FORCED_FAILURE_REASON = 'mock forced failure';
export const TRANSIENT_ERROR_MESSAGE = 'mock transient error';
/** jobs kept in memory; the oldest go first */
const MAX_JOBS = 10_000;

/** What a job's prompt asks of it. */
export interface JobPlan {
  durationMs: number;
  fail: boolean;
  /** status polls answering 503 before the poll that works */
  flakyPolls: number;
  /** delay of every response about the job: submit, polls, download, delete */
  latencyMs: number;
  /** an HTTP error status the submit call answers instead of creating the job */
  submitStatus?: number;
}

export interface MockJob<M = unknown> {
  readonly id: string;
  readonly provider: string;
  readonly prompt: string;
  /** ms since the epoch */
  readonly submittedAt: number;
  readonly plan: JobPlan;
  /** status polls received, the 503s of [[mock:flaky]] included */
  polls: number;
  /** what the provider's routes keep about the job (model, size, action...) */
  readonly meta: M;
}

export interface JobView {
  phase: JobPhase;
  /** elapsed / duration, in [0, 1]; 1 once finished (succeeded or failed) */
  fraction: number;
  /** ms since the epoch the job left the queue; null while queued */
  startedAt: number | null;
  /** ms since the epoch the job finished; null before */
  finishedAt: number | null;
}

const nonNegative = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n) && n >= 0;

export function planJob(prompt: string, defaultLatencyMs: number): JobPlan {
  const d = parseDirectives(prompt);
  const plan: JobPlan = {
    durationMs: nonNegative(d.durationMs) ? d.durationMs : DEFAULT_JOB_DURATION_MS,
    fail: d.fail === true,
    flakyPolls: nonNegative(d.flakyPolls) ? Math.floor(d.flakyPolls) : 0,
    latencyMs: nonNegative(d.latencyMs) ? d.latencyMs : defaultLatencyMs,
  };
  if (d.submitStatus !== undefined && Number.isInteger(d.submitStatus) && d.submitStatus >= 400 && d.submitStatus <= 599) plan.submitStatus = d.submitStatus;
  return plan;
}

export function viewJob(job: Pick<MockJob, 'submittedAt' | 'plan'>, now = Date.now()): JobView {
  const { durationMs, fail } = job.plan;
  const elapsed = Math.max(0, now - job.submittedAt);
  const startedAt = job.submittedAt + Math.round(durationMs * QUEUED_SHARE);
  const finishedAt = job.submittedAt + durationMs;
  if (elapsed >= durationMs) return { phase: fail ? 'failed' : 'succeeded', fraction: 1, startedAt, finishedAt };
  const fraction = elapsed / durationMs;
  if (now < startedAt) return { phase: 'queued', fraction, startedAt: null, finishedAt: null };
  return { phase: 'running', fraction, startedAt, finishedAt: null };
}

export const waitJobLatency = async (job: MockJob): Promise<void> => {
  if (job.plan.latencyMs > 0) await sleep(job.plan.latencyMs);
};

/**
 * A status poll: waits the job's latency, counts the poll, and tells whether it must answer a transient
 * 503 ([[mock:flaky=N]]: the first N polls do).
 */
export async function pollJob(job: MockJob): Promise<'ok' | 'transient_error'> {
  await waitJobLatency(job);
  job.polls += 1;
  return job.polls <= job.plan.flakyPolls ? 'transient_error' : 'ok';
}

/** The jobs of all providers, keyed by id; what /_mock/jobs shows. */
export type JobTable = Map<string, MockJob>;

/** One provider's view of the job table, typed with the metadata its routes keep. */
export class JobStore<M> {
  constructor(
    private readonly table: JobTable,
    readonly provider: string,
  ) {}

  create(id: string, prompt: string, plan: JobPlan, meta: M, submittedAt = Date.now()): MockJob<M> {
    const job: MockJob<M> = { id, provider: this.provider, prompt, submittedAt, plan, polls: 0, meta };
    this.table.set(id, job);
    if (this.table.size > MAX_JOBS) {
      const oldest = this.table.keys().next();
      if (!oldest.done) this.table.delete(oldest.value);
    }
    return job;
  }

  get(id: string): MockJob<M> | undefined {
    const job = this.table.get(id);
    // only this store creates jobs of its provider, so their meta is an M
    return job?.provider === this.provider ? (job as MockJob<M>) : undefined;
  }

  delete(id: string): boolean {
    return this.get(id) !== undefined && this.table.delete(id);
  }

  list(): MockJob<M>[] {
    return [...this.table.values()].filter((j): j is MockJob<M> => j.provider === this.provider);
  }
}

/** A job as /_mock/jobs shows it. */
export function describeJob(job: MockJob, now = Date.now()) {
  const view = viewJob(job, now);
  return {
    id: job.id,
    provider: job.provider,
    prompt: job.prompt,
    submitted_at: new Date(job.submittedAt).toISOString(),
    duration_ms: job.plan.durationMs,
    fail: job.plan.fail,
    flaky_polls: job.plan.flakyPolls,
    latency_ms: job.plan.latencyMs,
    polls: job.polls,
    phase: view.phase,
    fraction: view.fraction,
    meta: job.meta,
  };
}
