import type { TokenUsage } from '@gateway/contracts';
import { counter, counterChildren, histogram, histogramChildren } from '@gateway/ops';
import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** what the call turned out to be, for its metrics (and its access line): set as the call learns them */
    ttCall?: { style?: string; model?: string; channel?: string };
    /** performance.now() when the request arrived, and when its first body bytes went out (streams) */
    ttStartedAt?: number;
    ttFirstByteAt?: number;
    /** performance.now() when the call's upstream leg began (its first attempt was sent) */
    ttUpstreamAt?: number;
    /** ms spent on the upstream leg, every attempt and fallback included: to a whole answer's end, to a stream's first body bytes */
    ttUpstreamMs?: number;
  }
}

const requests = counterChildren(
  counter('gateway_http_requests_total', 'Public calls answered, by route, API style, model, channel and status', ['route', 'style', 'model', 'channel', 'status']),
);
const latency = histogramChildren(histogram('gateway_http_request_duration_seconds', 'Time from request to the last byte of the answer', ['route', 'style', 'model']));
const ttfb = histogramChildren(
  histogram('gateway_http_time_to_first_byte_seconds', 'Time from request to the first byte of the answer (a stream: its first event)', ['route', 'style', 'model']),
);
const upstreamLeg = histogramChildren(
  histogram('gateway_upstream_seconds', "A call's upstream leg, every attempt, retry and fallback included: to the end of an answer read whole, to the first body bytes of a stream", ['route', 'style', 'model']),
);
const overhead = histogramChildren(
  histogram(
    'gateway_overhead_seconds',
    "The gateway's own share of a call that reached an upstream: an answer's time (request to last byte) less its upstream leg; a stream's time to first byte less its upstream's",
    ['route', 'style', 'model'],
  ),
);
const tokens = counterChildren(counter('gateway_tokens_total', 'Tokens charged for, by model and type (input, output, reasoning, cached)', ['model', 'type']));
const charged = counterChildren(counter('gateway_charged_micros_total', 'Micros charged (settled costs) by model', ['model']));
const attempts = counterChildren(counter('gateway_upstream_attempts_total', 'Upstream attempts by channel and outcome (ok, or the error kind)', ['channel', 'outcome']));
const errors = counterChildren(counter('gateway_upstream_errors_total', 'Failed upstream attempts by channel and kind', ['channel', 'kind']));
const callHolds = counterChildren(
  counter('gateway_call_holds_total', "Calls' holds by how they were taken: lease (drawn in Redis from the account's credit lease, in the call's admission script), ahead (drawn and admitted by the key's previous call's script: no wait on Redis) or billing (placed there)", ['via']),
);
/** one child per way, made once */
export const callHoldsVia = { lease: callHolds.get('lease'), ahead: callHolds.get('ahead'), billing: callHolds.get('billing') };
const outboxAppends = counterChildren(
  counter(
    'gateway_outbox_appends_total',
    "Entries (a tick's settles and releases) appended to the settle outbox, by how: ride (in a call's admission script) or own (a round trip of their own)",
    ['via'],
  ),
);
/** one child per way, made once */
export const outboxAppendsVia = { ride: outboxAppends.get('ride'), own: outboxAppends.get('own') };
const retries = counterChildren(counter('gateway_upstream_retries_total', 'Upstream attempts that were a retry of the call (another channel, or the same again)', ['channel']));

const NONE = 'none';

/** onRequest hook: times the request and counts it when its response closes, streamed (hijacked) ones included. */
export function onRequestMetrics(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  req.ttStartedAt = performance.now();
  reply.raw.once('close', () => record(req, reply));
  done();
}

function record(req: FastifyRequest, reply: FastifyReply): void {
  const start = req.ttStartedAt!;
  const now = performance.now();
  const route = req.routeOptions.url ?? 'unmatched';
  const call = req.ttCall;
  const style = call?.style ?? NONE;
  const model = call?.model ?? NONE;
  // a client that left before any answer: nginx's 499
  const status = reply.raw.headersSent ? reply.raw.statusCode : 499;
  requests.get(route, style, model, call?.channel ?? NONE, statusLabel(status)).inc();
  latency.get(route, style, model).observe((now - start) / 1000);
  const firstByte = req.ttFirstByteAt ?? now;
  ttfb.get(route, style, model).observe((firstByte - start) / 1000);
  const up = req.ttUpstreamMs;
  if (up !== undefined) {
    upstreamLeg.get(route, style, model).observe(up / 1000);
    overhead.get(route, style, model).observe(Math.max(0, firstByte - start - up) / 1000);
  }
}

const statusLabels = new Map<number, string>();
function statusLabel(status: number): string {
  let s = statusLabels.get(status);
  if (s === undefined) statusLabels.set(status, (s = String(status)));
  return s;
}

/** The call's API style and model (the registry's id), once resolved. */
export function noteCall(req: FastifyRequest, style: string, model: string): void {
  const call = (req.ttCall ??= {});
  call.style = style;
  call.model = model;
}

/** The channel that answered. */
export function noteChannel(req: FastifyRequest, channel: string | null): void {
  if (channel) (req.ttCall ??= {}).channel = channel;
}

export function markFirstByte(req: FastifyRequest): void {
  req.ttFirstByteAt ??= performance.now();
}

/** The call's first upstream attempt goes out now. */
export function markUpstreamSent(req: FastifyRequest): void {
  req.ttUpstreamAt = performance.now();
}

/** The upstream leg ends now (a whole answer read, or a stream's first body bytes; later calls change nothing). */
export function markUpstreamDone(req: FastifyRequest): void {
  if (req.ttUpstreamMs === undefined && req.ttUpstreamAt !== undefined) req.ttUpstreamMs = performance.now() - req.ttUpstreamAt;
}

/**
 * Server-Timing of an answer read whole: `upstream` (its upstream leg) and `gateway` (the time since the
 * request arrived less that, up to now: everything but encoding and writing the answer), in ms.
 */
export function serverTiming(req: FastifyRequest): string {
  const up = req.ttUpstreamMs ?? 0;
  const own = Math.max(0, performance.now() - (req.ttStartedAt ?? 0) - up);
  return `upstream;dur=${up.toFixed(2)}, gateway;dur=${own.toFixed(2)}`;
}

/** A settled cost: micros and tokens per model. */
export function recordCharge(model: string, micros: number, usage?: TokenUsage): void {
  charged.get(model).inc(micros);
  if (!usage) return;
  tokens.get(model, 'input').inc(usage.input_tokens);
  tokens.get(model, 'output').inc(usage.output_tokens);
  tokens.get(model, 'reasoning').inc(usage.reasoning_tokens);
  tokens.get(model, 'cached').inc(usage.cached_input_tokens);
}

/**
 * One upstream attempt's result, for the upstream client (and its circuit breaker) to call once per attempt:
 * outcome 'ok', or the error kind ('status_429', 'status_5xx', 'status_4xx', 'timeout', 'connect_error', 'refused');
 * retry when the attempt was not the call's first.
 */
export function upstreamAttempt(channel: string, outcome: string, retry: boolean): void {
  attempts.get(channel, outcome).inc();
  if (outcome !== 'ok') errors.get(channel, outcome).inc();
  if (retry) retries.get(channel).inc();
}

/** The outcome label of an upstream HTTP status. */
export function upstreamStatusOutcome(status: number): string {
  if (status < 300) return 'ok';
  if (status === 429) return 'status_429';
  if (status >= 500) return 'status_5xx';
  return 'status_4xx';
}
