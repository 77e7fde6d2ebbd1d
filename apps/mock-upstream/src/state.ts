import type { FastifyRequest } from 'fastify';
import type { JobTable } from './jobs';

export interface RecordedRequest {
  provider: string;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  at: string;
}

/** What the mock has received, so tests can check that the gateway spoke the upstream's own format. */
export class MockState {
  readonly requests: RecordedRequest[] = [];
  /**
   * Every request received, compact (no headers, the body's first 200 characters), up to 500,000: the
   * upstream's own record of what it served, which fault tests hold against the gateway's ledger.
   */
  readonly served: Array<{ provider: string; method: string; path: string; body: string }> = [];
  /** the async jobs (videos, Midjourney tasks, BFL requests) of every provider, by id */
  readonly jobs: JobTable = new Map();
  latencyMs: number;
  chunkDelayMs: number;

  constructor(opts: { latencyMs: number; chunkDelayMs: number }) {
    this.latencyMs = opts.latencyMs;
    this.chunkDelayMs = opts.chunkDelayMs;
  }

  /** `body` replaces req.body in the log, e.g. a summary of a multipart form instead of its raw bytes */
  record(provider: string, req: FastifyRequest, body: unknown = req.body): void {
    this.requests.push({ provider, method: req.method, path: req.url, headers: req.headers, body, at: new Date().toISOString() });
    if (this.requests.length > 1000) this.requests.shift();
    if (this.served.length < 500_000) this.served.push({ provider, method: req.method, path: req.url, body: (typeof body === 'string' ? body : JSON.stringify(body) ?? '').slice(0, 200) });
  }
}
