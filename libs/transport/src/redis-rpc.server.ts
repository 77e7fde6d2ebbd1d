import { Logger } from '@nestjs/common';
import { BaseRpcContext, CustomTransportStrategy, Server } from '@nestjs/microservices';
import { DomainError, isTransientDbError, isUnstorableTextError, UNSTORABLE_TEXT_MESSAGE, type ErrorBody } from '@gateway/contracts';
import { FAST_BUCKETS, histogram, histogramChildren } from '@gateway/ops';
import { runWithRequestId } from '@gateway/logging';
import { extractContext, SpanKind, tracingActive, withSpan } from '@gateway/tracing';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { isObservable, lastValueFrom } from 'rxjs';
import { ALIVE_TTL_MS, HEARTBEAT_MS, keys, type ReplyEnvelope, type RequestEnvelope } from './redis-rpc.protocol';

export interface RedisRpcServerOptions {
  redisUrl: string;
  prefix: string;
  /** the service whose queue this instance serves */
  service: string;
  /** most requests popped in one round trip */
  batch?: number;
}

/** Time from popping a request to publishing its answer, per service, pattern and outcome (ok / error). */
const rpcDuration = histogramChildren(
  histogram('gateway_rpc_server_duration_seconds', 'RPC handling time on the server, from pop to reply', ['service', 'pattern', 'outcome'], FAST_BUCKETS),
);

export class RedisRpcContext extends BaseRpcContext<[RequestEnvelope]> {
  get envelope(): RequestEnvelope {
    return this.args[0];
  }
}

export class RedisRpcServer extends Server implements CustomTransportStrategy {
  protected override readonly logger: Logger;
  private readonly instanceId = randomUUID();
  private blocking?: Redis;
  private commands?: Redis;
  private running = false;
  private heartbeat?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();
  private loopDone?: Promise<void>;

  constructor(private readonly options: RedisRpcServerOptions) {
    super();
    this.logger = new Logger(`RedisRpcServer:${options.service}`);
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      this.blocking = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
      this.commands = new Redis(this.options.redisUrl, { enableAutoPipelining: true, lazyConnect: true });
      await Promise.all([this.blocking.connect(), this.commands.connect()]);
      this.running = true;
      await this.beat();
      this.heartbeat = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_MS);
      this.heartbeat.unref();
      this.loopDone = this.loop();
      callback();
    } catch (err) {
      callback(err);
    }
  }

  async close(): Promise<void> {
    this.running = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    // disconnecting interrupts the blocking pop; requests already popped are finished before we go
    this.blocking?.disconnect();
    await this.loopDone?.catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    await this.commands?.zrem(keys.alive(this.options.prefix, this.options.service), this.instanceId).catch(() => undefined);
    this.commands?.disconnect();
  }

  on(): void {
    throw new Error('RedisRpcServer does not emit events');
  }

  unwrap<T>(): T {
    return this.commands as T;
  }

  private async beat(): Promise<void> {
    const key = keys.alive(this.options.prefix, this.options.service);
    const now = Date.now();
    await this.commands!.multi().zadd(key, now + ALIVE_TTL_MS, this.instanceId).zremrangebyscore(key, 0, now).exec();
  }

  private async loop(): Promise<void> {
    const queue = keys.queue(this.options.prefix, this.options.service);
    const batch = String(this.options.batch ?? 64);
    while (this.running) {
      let popped: [string, string[]] | null;
      try {
        popped = (await this.blocking!.call('BLMPOP', '1', '1', queue, 'RIGHT', 'COUNT', batch)) as [string, string[]] | null;
      } catch (err) {
        if (!this.running) return;
        this.logger.error(`pop failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!popped) continue;
      for (const raw of popped[1]) {
        const p = this.handle(raw).catch((err) => this.logger.error(`request failed: ${(err as Error).stack}`));
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
      }
    }
  }

  /** handlers by pattern, looked up once per pattern rather than once per message */
  private readonly handlers = new Map<string, ReturnType<Server['getHandlerByPattern']>>();

  private handlerFor(pattern: string) {
    let h = this.handlers.get(pattern);
    if (h === undefined) {
      h = this.getHandlerByPattern(pattern);
      this.handlers.set(pattern, h);
    }
    return h;
  }

  private async handle(raw: string): Promise<void> {
    const envelope = JSON.parse(raw) as RequestEnvelope;
    // every line the handler logs carries the caller's request id
    return runWithRequestId(envelope.request_id, () => this.handleEnvelope(envelope));
  }

  private async handleEnvelope(envelope: RequestEnvelope): Promise<void> {
    if (envelope.deadline !== undefined && Date.now() > envelope.deadline) {
      this.logger.warn(`dropped ${envelope.pattern} ${envelope.id}: its caller stopped waiting ${Date.now() - envelope.deadline} ms ago`);
      return;
    }
    const handler = this.handlerFor(envelope.pattern);
    if (!handler) {
      await this.reply(envelope, { id: envelope.id, err: { code: 'internal', message: `no handler for ${envelope.pattern}` } });
      return;
    }
    const started = performance.now();
    const run = async (): Promise<void> => {
      let reply: ReplyEnvelope;
      try {
        const result = await handler(envelope.data, new RedisRpcContext([envelope]));
        // our handlers return promises or values; an Observable (Nest's other convention) is still honoured
        const response = isObservable(result) ? await lastValueFrom(result, { defaultValue: undefined }) : result;
        reply = { id: envelope.id, response };
      } catch (err) {
        const body = toErrorBody(err);
        if (body.code === 'internal') {
          // the detail (message, stack, driver text) stays in this service's log, never in the reply
          this.logger.error(`${envelope.pattern} failed (request ${envelope.request_id ?? '-'}): ${(err as Error)?.stack ?? describe(err)}`);
        }
        reply = { id: envelope.id, err: body };
      }
      await this.reply(envelope, reply);
      rpcDuration.get(this.options.service, envelope.pattern, reply.err ? 'error' : 'ok').observe((performance.now() - started) / 1000);
      if (reply.err) throw new DomainError(reply.err.code, reply.err.message);
    };
    if (!tracingActive()) {
      // nothing exports spans: no span, and no trace context to take apart
      await run().catch(() => undefined);
      return;
    }
    await withSpan(
      this.options.service,
      `rpc ${envelope.pattern}`,
      { kind: SpanKind.SERVER, parent: extractContext(envelope.trace), attributes: { 'rpc.system': 'redis-queue', 'rpc.method': envelope.pattern } },
      run,
    ).catch(() => undefined);
  }

  private async reply(envelope: RequestEnvelope, reply: ReplyEnvelope): Promise<void> {
    if (!envelope.replyTo) return;
    await this.commands!.publish(envelope.replyTo, JSON.stringify(reply));
  }
}

/** What an internal failure tells the caller: that it happened, never what it was (that is logged). */
export const INTERNAL_RPC_MESSAGE = 'internal error';

function describe(err: unknown): string {
  if (DomainError.isBody(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The reply for a failed handler: a domain error's own code and message; a database that went away a 503;
 * anything else (an internal DomainError included) a bare "internal error", so no exception text, stack,
 * path or driver message crosses to the caller.
 */
export function toErrorBody(err: unknown): ErrorBody {
  const body = err instanceof DomainError ? err.toBody() : DomainError.isBody(err) ? err : undefined;
  if (body && body.code !== 'internal') return body;
  // a database that went away is a 503 for the caller, never the driver's own text
  if (!body && isTransientDbError(err)) return { code: 'service_unavailable', message: 'a database the service needs is unavailable; try again shortly' };
  // a NUL in a value the caller sent: its fault (a 400), not ours
  if (!body && isUnstorableTextError(err)) return { code: 'invalid_request', message: UNSTORABLE_TEXT_MESSAGE };
  return { code: 'internal', message: INTERNAL_RPC_MESSAGE };
}
