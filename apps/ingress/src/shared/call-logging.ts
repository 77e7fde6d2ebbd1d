import { redactUrl, type CallLogContext, type Logger } from '@gateway/logging';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorShaper } from '../errors/style-exception.filter';
import type { Lifecycle } from './lifecycle';
import type { RequestLogService } from '../request-log/request-log';
import { CACHE_STATUS_HEADER } from '../cache/response-cache.service';

declare module 'fastify' {
  interface FastifyRequest {
    /** what the call's log lines and its access line know about it */
    ttLog: CallLogContext;
  }
}

/**
 * The calls in flight, by request id (ids are the gateway's own, never the client's): what a call's code
 * learns (key, model, channel, tokens, cost) is recorded on its entry by id. Ingress passes the id along
 * instead of keeping an AsyncLocalStorage: on Node 20 an active one runs a hook on every promise the
 * process makes, about a tenth of ingress's CPU a call at open throttle (docs/throughput-history.md). Its own
 * log lines about a call carry `request_id` as a field.
 */
const calls = new Map<string, CallLogContext>();

/** Records facts about a call in flight for its access line and its request-log row; a no-op once it ended. */
export function annotateCall(requestId: string | undefined, fields: Omit<Partial<CallLogContext>, 'request_id'>): void {
  const ctx = requestId === undefined ? undefined : calls.get(requestId);
  if (ctx) Object.assign(ctx, fields);
}

/** how many calls are tracked (tests: none left once every response closed) */
export function callsTracked(): number {
  return calls.size;
}

/** routes probes and scrapers hit every few seconds: no access line, and answered while draining */
const isOps = (url: string) => url.startsWith('/health') || url.startsWith('/metrics');

/**
 * Per request: its log context (what its access line and request-log row report), its place in
 * the in-flight count a drain waits for, a 503 while draining, and one access line when its response
 * closes, with the key id, model, channel, tokens and cost the call recorded (never the key itself).
 * `lifecycle` is read lazily: the hooks are installed before Nest builds the Lifecycle.
 */
export function installCallLogging(
  fastify: FastifyInstance,
  logger: Logger,
  lifecycle: () => Lifecycle | undefined,
  requestLog: () => RequestLogService | undefined = () => undefined,
): void {
  fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const ctx: CallLogContext = { request_id: req.ttRequestId };
    req.ttLog = ctx;
    const ops = isOps(req.url);
    const life = lifecycle();
    if (!ops) {
      const started = performance.now();
      calls.set(ctx.request_id, ctx);
      reply.raw.once('close', () => {
        calls.delete(ctx.request_id);
        const latency = performance.now() - started;
        access(logger, req, reply, ctx, Math.round(latency));
        logCall(requestLog(), req, reply, ctx, latency);
      });
    }
    if (life?.draining && !ops) {
      const { status, body } = errorShaper(req)({ code: 'service_unavailable', message: 'This gateway instance is shutting down; retry the request.' });
      void reply.code(status).header('retry-after', '1').header('connection', 'close').send(body);
      return;
    }
    if (life && !ops) life.track(reply.raw);
    if (life?.draining) void reply.header('connection', 'close');
    done();
  });
}

/** the console's own reads (its polling would bury the calls) are not API calls worth a row */
const isConsoleRead = (url: string) => url.startsWith('/v1/account');

/** A row in the request log for every call whose key was known, whatever its outcome. */
/** latency: ms since the request arrived (unrounded); the row's created_at is that arrival */
function logCall(log: RequestLogService | undefined, req: FastifyRequest, reply: FastifyReply, ctx: CallLogContext, latency: number): void {
  if (!log || !ctx.account_id || isConsoleRead(req.url)) return;
  const res = reply.raw;
  const cache = res.getHeader(CACHE_STATUS_HEADER);
  log.push({
    request_id: ctx.request_id,
    account_id: ctx.account_id,
    key_id: ctx.key_id ?? null,
    method: req.method,
    path: redactUrl(req.url).split('?')[0].slice(0, 500),
    model: ctx.model ?? null,
    status: res.statusCode,
    error_code: ctx.error_code ?? (res.statusCode >= 400 ? 'error' : null),
    latency_ms: Math.round(latency),
    stream: String(res.getHeader('content-type') ?? '').includes('text/event-stream'),
    cache: cache === 'hit' || cache === 'miss' || cache === 'bypass' ? cache : null,
    channel_id: ctx.channel_id ?? null,
    input_tokens: ctx.input_tokens ?? 0,
    output_tokens: ctx.output_tokens ?? 0,
    cost_micros: ctx.cost_micros ?? 0,
    created_at: new Date(Date.now() - latency).toISOString(),
  });
}

function access(logger: Logger, req: FastifyRequest, reply: FastifyReply, ctx: CallLogContext, latency: number): void {
  // below info (LOG_LEVEL=warn) the line is not written: not built either
  if (!logger.isLevelEnabled('info')) return;
  const res = reply.raw;
  logger.info(
    {
      request_id: ctx.request_id,
      method: req.method,
      url: redactUrl(req.url),
      status: res.statusCode,
      latency_ms: latency,
      key_id: ctx.key_id ?? null,
      model: ctx.model ?? null,
      channel_id: ctx.channel_id ?? null,
      input_tokens: ctx.input_tokens ?? null,
      output_tokens: ctx.output_tokens ?? null,
      cost_micros: ctx.cost_micros ?? null,
      ...(res.writableFinished ? {} : { client_gone: true }),
    },
    'access',
  );
}
