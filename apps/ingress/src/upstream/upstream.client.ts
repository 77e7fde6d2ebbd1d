import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DomainError, type RouteTarget } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import { withSpan, SpanKind } from '@gateway/tracing';
import { Agent, errors as undiciErrors, request, type Dispatcher, type FormData } from 'undici';
import { CONFIG } from '../shared/tokens';

export interface UpstreamResponse {
  target: RouteTarget;
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
}

export interface UpstreamRequest {
  path: string;
  body: string | Buffer | FormData;
  headers: Record<string, string>;
}

const RETRYABLE = (status: number) => status === 429 || status >= 500;

/** Orders a model's channels: by priority, and within one priority a weighted random shuffle. */
export function orderTargets(targets: RouteTarget[], random: () => number = Math.random): RouteTarget[] {
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

/**
 * HTTP to upstreams over pooled keep-alive connections. A connect error, 429 or 5xx before the first
 * byte of the body moves on to the next channel; once a body is flowing there is no retry.
 */
@Injectable()
export class UpstreamClient implements OnApplicationShutdown {
  private readonly logger = new Logger(UpstreamClient.name);
  private readonly agent: Agent;

  constructor(@Inject(CONFIG) private readonly config: IngressConfig) {
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
  async post(targets: RouteTarget[], build: (t: RouteTarget) => UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    if (targets.length === 0) throw new DomainError('service_unavailable', 'no upstream channel serves this model');
    let last: DomainError | undefined;
    // every channel that answered said 429: the client gets a 429 with the longest Retry-After they asked for
    let limited = 0;
    let attempts = 0;
    let retryAfter: number | undefined;
    for (const target of orderTargets(targets)) {
      attempts++;
      const { path, body, headers } = build(target);
      const url = `${target.base_url.replace(/\/+$/, '')}${path}`;
      try {
        const res = await withSpan('ingress', `upstream POST ${path.split('?')[0]}`, { kind: SpanKind.CLIENT, attributes: { 'gateway.channel_id': target.channel_id, 'url.full': url } }, async (span) => {
          const r = await request(url, { method: 'POST', body, headers, dispatcher: this.agent, signal });
          span.setAttribute('http.response.status_code', r.statusCode);
          return r;
        });
        if (res.statusCode < 300) return { target, ...res };
        const text = await res.body.text().catch(() => '');
        const detail = upstreamMessage(text);
        const param = upstreamParam(text);
        if (res.statusCode === 429) {
          limited++;
          const wait = retryAfterSeconds(res.headers);
          if (wait !== undefined) retryAfter = Math.max(retryAfter ?? 0, wait);
        }
        if (RETRYABLE(res.statusCode)) {
          last = new DomainError('upstream_error', `upstream ${target.channel_id} answered ${res.statusCode}${detail ? `: ${detail}` : ''}`);
          this.logger.warn(last.message);
          continue;
        }
        if ([400, 404, 413, 422].includes(res.statusCode)) {
          // the upstream's own words and the field it named, in the client's style
          throw new DomainError(res.statusCode === 413 ? 'payload_too_large' : 'invalid_request', detail || `upstream rejected the request (${res.statusCode})`, param);
        }
        throw new DomainError('upstream_error', `upstream ${target.channel_id} answered ${res.statusCode}${detail ? `: ${detail}` : ''}`);
      } catch (err) {
        if (err instanceof DomainError) throw err;
        if (signal.aborted) throw new DomainError('invalid_request', 'client closed the request');
        if (err instanceof undiciErrors.HeadersTimeoutError) {
          last = new DomainError('upstream_timeout', `upstream ${target.channel_id} did not answer within ${this.config.UPSTREAM_TIMEOUT_MS} ms`);
        } else {
          last = new DomainError('upstream_error', `upstream ${target.channel_id} unreachable: ${(err as Error).message}`);
        }
        this.logger.warn(last.message);
      }
    }
    if (limited > 0 && limited === attempts) {
      throw new DomainError('rate_limited', `the upstream rate-limited this request on every channel of the model; retry after ${retryAfter ?? 1} s`, undefined, retryAfter ?? 1);
    }
    throw last ?? new DomainError('upstream_error', 'every upstream channel failed');
  }
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
