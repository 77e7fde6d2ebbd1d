import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DomainError, type RouteTarget, type TokenUsage } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import { startSpan, SpanKind, SpanStatusCode, tracingActive, type Attributes, type Span } from '@gateway/tracing';
import { Agent, errors as undiciErrors, request, util as undiciUtil, type Dispatcher, type FormData } from 'undici';
import { CONFIG } from '../shared/tokens';
import { CircuitBreaker, type BreakerState, type PlannedTarget } from './circuit-breaker';

/** A response's body: undici's body stream, or (a call that reads it whole anyway) the bytes already read. */
export interface UpstreamBody extends AsyncIterable<Buffer> {
  json(): Promise<unknown>;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface UpstreamResponse {
  target: RouteTarget;
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: UpstreamBody;
  /** which of postTiers' tiers served (0: the model's own channels, 1…: its fallbacks) */
  tier: number;
  /**
   * Sets the call's outcome on the serving attempt's span (GenAI usage, cost) and ends it; a span nobody
   * finishes ends a moment after its body closed. Idempotent.
   */
  finish(attributes?: Attributes): void;
}

export interface UpstreamRequest {
  path: string;
  body: string | Buffer | FormData;
  headers: Record<string, string>;
}

/** One try of one channel: what every attempt ends as, in one place (span, log, breaker, and the hook). */
export interface AttemptResult {
  channel_id: string;
  /** 1-based, over the whole call (retries and fallbacks included) */
  attempt: number;
  tier: number;
  outcome: 'ok' | 'status' | 'connect_error' | 'timeout' | 'refused';
  status?: number;
  /** the channel's breaker state when it was tried */
  breaker: BreakerState;
  /** whether the channel's circuit is open after this attempt */
  opened: boolean;
  duration_ms: number;
}

const RETRYABLE = (status: number) => status === 429 || status >= 500;

/** Orders a model's channels: by priority, and within one priority a weighted random shuffle. */
export function orderTargets(targets: RouteTarget[], random: () => number = Math.random): RouteTarget[] {
  // one channel (most models): nothing to order, and no map, arrays and sort made for it on every call
  if (targets.length <= 1) return targets;
  const byPriority = new Map<number, RouteTarget[]>();
  for (const t of targets) byPriority.set(t.priority, [...(byPriority.get(t.priority) ?? []), t]);
  const out: RouteTarget[] = [];
  for (const p of [...byPriority.keys()].sort((a, b) => b - a)) {
    const pool = [...byPriority.get(p)!];
    while (pool.length > 0) {
      const total = pool.reduce((n, t) => n + Math.max(t.weight, 0), 0);
      let pick = 0;
      if (total > 0) {
        let r = random() * total;
        pick = pool.findIndex((t) => (r -= Math.max(t.weight, 0)) < 0);
        if (pick < 0) pick = pool.length - 1;
      }
      out.push(pool.splice(pick, 1)[0]);
    }
  }
  return out;
}

/** A connect-level failure: nothing reached the upstream, so the same channel may be asked again at once. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** What an attempt got back: status, headers and the body (a stream, or read whole). */
interface Answered {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: UpstreamBody;
}

/**
 * A body read whole before the call goes on. `failed`: the upstream's headers came but its body broke off
 * (a body timeout, a reset); reading it then fails as undici's stream would, and the attempt is not retried.
 */
class WholeBody implements UpstreamBody {
  constructor(
    private readonly bytes: Buffer,
    private readonly failed?: Error,
  ) {}

  async text(): Promise<string> {
    if (this.failed) throw this.failed;
    const text = this.bytes.toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.failed) throw this.failed;
    return new Uint8Array(this.bytes).buffer;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.failed) throw this.failed;
    if (this.bytes.length > 0) yield this.bytes;
  }
}

/** bytes a streamed body may queue unread before the upstream connection is paused */
const STREAM_HIGH_WATER = 64 * 1024;

/**
 * A streamed body fed by undici's dispatch handler (dispatchPost): chunks are queued as they arrive and taken
 * by one reader, without a Readable stream between (its buffering, events and promise per chunk cost about a
 * tenth of a millisecond before a stream's first byte). The connection is paused while STREAM_HIGH_WATER
 * bytes wait unread; a reader that stops early aborts the request.
 */
class StreamBody implements UpstreamBody {
  private chunks: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failed?: Error;
  private wake?: () => void;
  private resume?: () => void;
  private abort?: (err: Error) => void;
  private readonly closed: Array<() => void> = [];

  /** from onHeaders / onConnect: how to resume a paused connection, and how to abort the request */
  wire(resume: () => void, abort: ((err: Error) => void) | undefined): void {
    this.resume = resume;
    this.abort = abort;
  }

  /** a chunk arrived; false asks undici to pause until the reader catches up */
  push(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.queued += chunk.length;
    this.notify();
    return this.queued < STREAM_HIGH_WATER;
  }

  /** the body is complete (err: it broke off) */
  end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failed = err;
    this.notify();
    for (const f of this.closed.splice(0)) f();
  }

  /** f runs once the body has ended, completed or not */
  onClose(f: () => void): void {
    if (this.ended) f();
    else this.closed.push(f);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    try {
      for (;;) {
        if (this.chunks.length > 0) {
          const batch = this.chunks;
          const paused = this.queued >= STREAM_HIGH_WATER;
          this.chunks = [];
          this.queued = 0;
          if (paused) this.resume?.();
          // what came since the last read, as one piece: one parse and one write downstream, not one per chunk
          yield batch.length === 1 ? batch[0] : Buffer.concat(batch);
          continue;
        }
        if (this.failed) throw this.failed;
        if (this.ended) return;
        await new Promise<void>((r) => (this.wake = r));
      }
    } finally {
      // the reader stopped before the end (it broke off, or threw): the rest is not wanted
      if (!this.ended) this.abort?.(new undiciErrors.RequestAbortedError());
    }
  }

  private async bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this) parts.push(c);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  async text(): Promise<string> {
    const text = (await this.bytes()).toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return new Uint8Array(await this.bytes()).buffer;
  }
}

type Tried =
  | { ok: true; res: Answered; span: Span }
  | { ok: false; outcome: AttemptResult['outcome']; status?: number; error: DomainError; retryAfter?: number; fatal: boolean };

/**
 * HTTP to upstreams over pooled keep-alive connections. Channels are tried by priority and weight, those
 * whose circuit is open left out (CircuitBreaker); a connect error is retried once on the same channel
 * after UPSTREAM_RETRY_BACKOFF_MS, then a connect error, timeout, 429 or 5xx before the first byte of the
 * body moves on to the next channel, and when a tier (a model's channels) is spent, to the next tier (its
 * fallback model's). Once a body is flowing there is no retry.
 */
@Injectable()
export class UpstreamClient implements OnApplicationShutdown {
  private readonly logger = new Logger(UpstreamClient.name);
  private readonly agent: Agent;
  /** called with every attempt's result (metrics hook there) */
  onAttempt?: (r: AttemptResult) => void;

  constructor(
    @Inject(CONFIG) private readonly config: IngressConfig,
    private readonly breaker: CircuitBreaker,
  ) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 512,
      headersTimeout: config.UPSTREAM_TIMEOUT_MS,
      bodyTimeout: config.UPSTREAM_TIMEOUT_MS,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }

  /** `build` makes the request for one channel; a DomainError it throws (e.g. a 400) ends the attempt. */
  async post(targets: RouteTarget[], build: (t: RouteTarget) => UpstreamRequest, signal?: AbortSignal, requestId?: string): Promise<UpstreamResponse> {
    const res = await this.postTiers([targets], build, signal, { requestId });
    res.finish();
    return res;
  }

  /**
   * Tries the tiers in order (a model's channels, then each fallback model's), moving on only when every
   * channel of a tier failed or is open-circuit. A tier whose channels are all open is skipped while a later
   * tier is left; the last one gets its longest-open channel tried anyway (forced), not a blind refusal.
   */
  async postTiers(tiers: RouteTarget[][], build: (t: RouteTarget) => UpstreamRequest, signal: AbortSignal | undefined, opts: { whole?: boolean; requestId?: string } = {}): Promise<UpstreamResponse> {
    if (tiers.every((t) => t.length === 0)) throw new DomainError('service_unavailable', 'no upstream channel serves this model');
    let last: DomainError | undefined;
    // every channel that answered said 429: the client gets a 429 with the longest Retry-After they asked for
    let limited = 0;
    let channels = 0;
    let attempt = 0;
    let retryAfter: number | undefined;
    for (let tier = 0; tier < tiers.length; tier++) {
      let plan = await this.breaker.plan(orderTargets(tiers[tier]));
      if (plan.length === 1 && plan[0].state === 'forced' && tiers.slice(tier + 1).some((t) => t.length > 0)) plan = [];
      for (const p of plan) {
        channels++;
        for (let retry = 0; ; retry++) {
          attempt++;
          const started = Date.now();
          const tried = await this.attempt(p, build, signal, attempt, tier, opts.whole === true);
          const ok = tried.ok;
          const fatal = !ok && tried.fatal;
          // a refusal (a 4xx about the request) says nothing about the channel's health
          const counts = ok || (!fatal && !(retry === 0 && tried.outcome === 'connect_error'));
          const opened = counts ? await this.breaker.record(p, ok, ok ? undefined : tried.retryAfter) : false;
          const result: AttemptResult = {
            channel_id: p.target.channel_id,
            attempt,
            tier,
            outcome: ok ? 'ok' : tried.outcome,
            status: ok ? tried.res.statusCode : tried.status,
            breaker: p.state,
            opened,
            duration_ms: Date.now() - started,
          };
          this.attempted(result, ok ? tried.span : undefined, opts.requestId);
          if (tried.ok) return this.response(p.target, tier, tried.res, tried.span, opts.whole === true);
          if (tried.fatal) throw tried.error;
          last = tried.error;
          if (retry === 0 && tried.outcome === 'connect_error' && !signal?.aborted) {
            await new Promise((r) => setTimeout(r, this.config.UPSTREAM_RETRY_BACKOFF_MS));
            continue;
          }
          if (tried.status === 429) {
            limited++;
            if (tried.retryAfter !== undefined) retryAfter = Math.max(retryAfter ?? 0, tried.retryAfter);
          }
          break;
        }
      }
    }
    if (limited > 0 && limited === channels) {
      throw new DomainError('rate_limited', `the upstream rate-limited this request on every channel of the model; retry after ${retryAfter ?? 1} s`, undefined, retryAfter ?? 1);
    }
    throw last ?? new DomainError('upstream_error', 'every upstream channel failed');
  }

  /** Where every attempt's result goes: the attempt's span, the log, and the hook. */
  private attempted(r: AttemptResult, span?: Span, requestId?: string): void {
    if (span) span.setAttributes({ 'gateway.attempt.outcome': r.outcome, 'gateway.breaker.opened': r.opened });
    if (r.outcome !== 'ok') {
      const msg = `attempt ${r.attempt} on channel ${r.channel_id}: ${r.outcome}${r.status ? ` ${r.status}` : ''}${r.opened ? ' (circuit open)' : ''}`;
      this.logger.warn(requestId ? { msg, request_id: requestId } : msg);
    }
    this.onAttempt?.(r);
  }

  /** One request to one channel, under its own span (a failed attempt's span ends here, a served one at finish). */
  private async attempt(p: PlannedTarget, build: (t: RouteTarget) => UpstreamRequest, signal: AbortSignal | undefined, attempt: number, tier: number, whole: boolean): Promise<Tried> {
    const target = p.target;
    const { path, body, headers } = build(target);
    const url = `${target.base_url.replace(/\/+$/, '')}${path}`;
    const span = startSpan('ingress', `upstream POST ${path.split('?')[0]}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'gateway.channel_id': target.channel_id,
        'url.full': url,
        'gateway.attempt': attempt,
        'gateway.fallback_tier': tier,
        'gateway.breaker.state': p.state,
        'gen_ai.system': target.provider,
        'gen_ai.request.model': target.upstream_model,
      },
    });
    const fail = (t: Omit<Extract<Tried, { ok: false }>, 'ok'>): Tried => {
      span.setAttributes({ 'gateway.attempt.outcome': t.outcome, ...(t.status ? { 'http.response.status_code': t.status } : {}) });
      span.setStatus({ code: SpanStatusCode.ERROR, message: t.error.message });
      span.end();
      return { ok: false, ...t };
    };
    let res: Answered;
    try {
      if (typeof body !== 'string') res = await request(url, { method: 'POST', body, headers, dispatcher: this.agent, signal });
      else res = await this.dispatchPost(url, body, headers, signal, whole);
    } catch (err) {
      if (signal?.aborted) return fail({ outcome: 'refused', error: new DomainError('invalid_request', 'client closed the request'), fatal: true });
      if (err instanceof undiciErrors.HeadersTimeoutError) {
        return fail({ outcome: 'timeout', error: new DomainError('upstream_timeout', `upstream ${target.channel_id} did not answer within ${this.config.UPSTREAM_TIMEOUT_MS} ms`), fatal: false });
      }
      const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? '';
      const outcome = CONNECT_CODES.has(code) || err instanceof undiciErrors.ConnectTimeoutError ? 'connect_error' : 'timeout';
      return fail({ outcome, error: new DomainError('upstream_error', `upstream ${target.channel_id} unreachable${code ? ` (${code})` : ''}`), fatal: false });
    }
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode < 300) return { ok: true, res, span };
    const text = await res.body.text().catch(() => '');
    const detail = upstreamMessage(text);
    const said = `upstream ${target.channel_id} answered ${res.statusCode}${detail ? `: ${detail}` : ''}`;
    if (RETRYABLE(res.statusCode)) {
      return fail({ outcome: 'status', status: res.statusCode, error: new DomainError('upstream_error', said), retryAfter: retryAfterSeconds(res.headers), fatal: false });
    }
    if ([400, 404, 413, 422].includes(res.statusCode)) {
      // the upstream's own words and the field it named, in the client's style
      const error = new DomainError(res.statusCode === 413 ? 'payload_too_large' : 'invalid_request', detail || `upstream rejected the request (${res.statusCode})`, upstreamParam(text));
      return fail({ outcome: 'refused', status: res.statusCode, error, fatal: true });
    }
    return fail({ outcome: 'refused', status: res.statusCode, error: new DomainError('upstream_error', said), fatal: true });
  }

  /**
   * A POST through undici's dispatch, without request()'s body stream, abort wiring and promise per chunk
   * (measured: about 40 % less client CPU a call against the mock). `whole` (a call that is not streamed): the
   * chunks are kept and the answer resolves at its end. Otherwise it resolves at the headers with a StreamBody
   * fed as chunks come. Errors before the headers reject as request()'s do; after them, the body carries them
   * (once the headers came the attempt counts as answered: the body's failure is the call's, not a retry).
   */
  private dispatchPost(url: string, body: string, headers: Record<string, string>, signal: AbortSignal | undefined, whole: boolean): Promise<Answered> {
    const { origin, pathname, search } = new URL(url);
    return new Promise<Answered>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new undiciErrors.RequestAbortedError());
      const stream = whole ? undefined : new StreamBody();
      const chunks: Buffer[] = [];
      let statusCode = 0;
      let rawHeaders: Buffer[] = [];
      let abort: ((err?: Error) => void) | undefined;
      const onAbort = () => abort?.(signal?.reason ?? new undiciErrors.RequestAbortedError());
      signal?.addEventListener('abort', onAbort, { once: true });
      const answer = (b: UpstreamBody) => resolve({ statusCode, headers: undiciUtil.parseHeaders(rawHeaders) as Dispatcher.ResponseData['headers'], body: b });
      const wholeBody = (failed?: Error) => new WholeBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), failed);
      this.agent.dispatch(
        { origin, path: pathname + search, method: 'POST', headers, body },
        {
          onConnect: (a) => {
            abort = a;
            if (signal?.aborted) onAbort();
          },
          onHeaders: (status, raw, resume) => {
            if (status < 200) return true;
            statusCode = status;
            rawHeaders = raw;
            if (stream) {
              stream.wire(resume, abort);
              answer(stream);
            }
            return true;
          },
          onData: (chunk) => {
            if (stream) return stream.push(chunk);
            chunks.push(chunk);
            return true;
          },
          onComplete: () => {
            signal?.removeEventListener('abort', onAbort);
            if (stream) stream.end();
            else answer(wholeBody());
          },
          onError: (err) => {
            signal?.removeEventListener('abort', onAbort);
            if (statusCode < 200) reject(err);
            else if (stream) stream.end(err);
            else answer(wholeBody(err));
          },
        },
      );
    });
  }

  private response(target: RouteTarget, tier: number, res: Answered, span: Span, whole: boolean): UpstreamResponse {
    let ended = false;
    const finish = (attributes?: Attributes) => {
      if (ended) return;
      ended = true;
      if (attributes) span.setAttributes(attributes);
      span.end();
    };
    // a span nobody finished ends a moment after its body closed; without an exporter there is no span to
    // end, and no timer kept alive for two seconds per call (each one outlived young-generation GC)
    if (tracingActive()) {
      if (whole) setTimeout(finish, 2000).unref();
      else if (res.body instanceof StreamBody) res.body.onClose(() => setTimeout(finish, 2000).unref());
      else (res.body as Dispatcher.ResponseData['body']).once('close', () => setTimeout(finish, 2000).unref());
    }
    return { target, tier, statusCode: res.statusCode, headers: res.headers, body: res.body, finish };
  }
}

/**
 * GenAI semantic-convention attributes of a finished call, for its upstream span (gen_ai.system and
 * gen_ai.request.model are set when the attempt starts); the cost in micros beside them.
 */
export function genAiAttributes(usage: TokenUsage, costMicros: number, answer?: { stop_reason?: string; model?: string }): Attributes {
  return {
    'gen_ai.usage.input_tokens': usage.input_tokens,
    'gen_ai.usage.output_tokens': usage.output_tokens,
    ...(answer?.model ? { 'gen_ai.response.model': answer.model } : {}),
    ...(answer?.stop_reason ? { 'gen_ai.response.finish_reasons': [answer.stop_reason] } : {}),
    'gateway.cost_micros': costMicros,
  };
}

/** An upstream's Retry-After (seconds or an HTTP date; OpenAI also sends retry-after-ms), in whole seconds. */
export function retryAfterSeconds(headers: Dispatcher.ResponseData['headers'], now = Date.now()): number | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const ms = Number(first(headers['retry-after-ms']));
  if (Number.isFinite(ms) && ms >= 0 && first(headers['retry-after-ms']) !== undefined) return Math.max(1, Math.ceil(ms / 1000));
  const raw = first(headers['retry-after'])?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.max(1, Math.ceil(Number(raw)));
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(1, Math.ceil((at - now) / 1000));
}

/** The request field an upstream's 4xx names (OpenAI's `error.param`), if any. */
function upstreamParam(text: string): string | undefined {
  try {
    const p = (JSON.parse(text) as { error?: { param?: unknown } }).error?.param;
    return typeof p === 'string' && p ? p : undefined;
  } catch {
    return undefined;
  }
}

function upstreamMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    if (typeof j.error === 'string') return j.error;
    return j.error?.message ?? j.message ?? text.slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}
