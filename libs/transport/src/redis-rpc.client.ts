import { Logger } from '@nestjs/common';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { DomainError, type RpcPattern, type RpcRequest, type RpcResponse } from '@gateway/contracts';
import { currentCallContext } from '@gateway/logging';
import { injectContext } from '@gateway/tracing';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { keys, type ReplyEnvelope, type RequestEnvelope } from './redis-rpc.protocol';

export interface RedisRpcClientOptions {
  redisUrl: string;
  prefix: string;
  /** the service this client calls */
  service: string;
  timeoutMs: number;
}

interface Pending {
  callback: (packet: WritePacket) => void;
  timer: NodeJS.Timeout;
}

/**
 * Nest ClientProxy over the Redis work-queue transport (see redis-rpc.protocol.ts).
 * `call()` is the typed way in: pattern and payload are checked against RpcContract.
 */
export class RedisRpcClient extends ClientProxy {
  private readonly logger: Logger;
  private readonly replyChannel: string;
  private readonly queue: string;
  private readonly pending = new Map<string, Pending>();
  private commands?: Redis;
  private subscriber?: Redis;
  private connecting?: Promise<void>;
  /** while the reply connection reconnects: settles once it is ready again (ioredis then resubscribes) */
  private resubscribed?: Promise<void>;

  constructor(private readonly options: RedisRpcClientOptions) {
    super();
    this.logger = new Logger(`RedisRpcClient:${options.service}`);
    this.replyChannel = keys.reply(options.prefix, randomUUID());
    this.queue = keys.queue(options.prefix, options.service);
  }

  connect(): Promise<void> {
    this.connecting ??= this.open().catch((err) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    this.commands = new Redis(this.options.redisUrl, { enableAutoPipelining: true, lazyConnect: true });
    // named after its reply channel, so that CLIENT LIST tells which process a reply connection serves
    this.subscriber = new Redis(this.options.redisUrl, { lazyConnect: true, connectionName: this.replyChannel.replace(/\s/g, '_') });
    await Promise.all([this.commands.connect(), this.subscriber.connect()]);
    this.subscriber.on('message', (_channel: string, message: string) => this.onReply(message));
    await this.subscriber.subscribe(this.replyChannel);
  }

  async close(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.callback({ err: { code: 'service_unavailable', message: `${this.options.service} client closed` }, isDisposed: true });
      this.pending.delete(id);
    }
    this.subscriber?.disconnect();
    this.commands?.disconnect();
    this.connecting = undefined;
  }

  unwrap<T>(): T {
    return this.commands as T;
  }

  /** The typed way in. Straight onto the queue: no Observable per call (send() still offers one). */
  call<P extends RpcPattern>(pattern: P, data: RpcRequest<P>): Promise<RpcResponse<P>> {
    if (!this.commands) return this.connect().then(() => this.call(pattern, data));
    return new Promise<RpcResponse<P>>((resolve, reject) => {
      this.publish({ pattern, data }, (packet) => {
        if (packet.err) reject(DomainError.from(packet.err));
        else resolve(packet.response as RpcResponse<P>);
      });
    });
  }

  /**
   * A call whose request the caller puts on the queue itself, from a script that does other work in the
   * same round trip (HoldPlacer admits and places in one). `head` + the request's data JSON + `tail` is the
   * envelope to push onto `queue`; `reply` settles when the answer comes, or fails at the deadline;
   * `cancel()` if it was never sent. `ready` is null when the request may be pushed at once; else it settles
   * when it may: the reply channel is being subscribed again after a reconnect (see replyListening), and an
   * answer published before then would be lost.
   */
  prepareCall<P extends RpcPattern>(pattern: P): { queue: string; head: string; tail: string; reply: Promise<RpcResponse<P>>; cancel: () => void; ready: Promise<void> | null } {
    const envelope = this.envelope(pattern, null);
    let cancel = () => undefined as void;
    const reply = new Promise<RpcResponse<P>>((resolve, reject) => {
      cancel = this.expectReply(envelope, (packet) => (packet.err ? reject(DomainError.from(packet.err)) : resolve(packet.response as RpcResponse<P>)));
    });
    // `data` is the envelope's last field: its JSON ends in `"data":null}`
    const json = JSON.stringify(envelope);
    return { queue: this.queue, head: json.slice(0, -'null}'.length), tail: '}', reply, cancel, ready: this.replyListening() };
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const envelope = this.envelope(typeof packet.pattern === 'string' ? packet.pattern : this.normalizePattern(packet.pattern), packet.data);
    const cancel = this.expectReply(envelope, callback);
    const send = () => {
      if (!this.pending.has(envelope.id)) return; // timed out while the reply connection was away
      this.commands!.lpush(this.queue, JSON.stringify(envelope)).catch((err: Error) => {
        if (!this.pending.has(envelope.id)) return;
        cancel();
        callback({ err: { code: 'service_unavailable', message: `cannot reach Redis to call ${this.options.service}: ${err.message}` }, isDisposed: true });
      });
    };
    const wait = this.replyListening();
    if (wait) void wait.then(send);
    else send();
    return cancel;
  }

  /**
   * null while the reply channel is subscribed; else what settles once it is again. Replies are published on
   * a channel, and a channel keeps nothing for a subscriber that is away: a request sent while the reply
   * connection reconnects (after a Redis restart, the commands connection can be back first) would be answered
   * into the void and wait out its deadline. ioredis resubscribes in the same step that makes the connection
   * ready, so a request sent after that has a listener for its answer.
   */
  private replyListening(): Promise<void> | null {
    const sub = this.subscriber!;
    if (sub.status === 'ready') return null;
    this.resubscribed ??= new Promise<void>((resolve) =>
      sub.once('ready', () => {
        this.resubscribed = undefined;
        resolve();
      }),
    );
    return this.resubscribed;
  }

  /** A request to this client's service, answered on its reply channel by the deadline; `data` last. */
  private envelope(pattern: string, data: unknown): RequestEnvelope {
    return { id: randomUUID(), pattern, replyTo: this.replyChannel, deadline: Date.now() + this.options.timeoutMs, trace: injectContext(), request_id: currentCallContext()?.request_id, data };
  }

  /** Waits for the envelope's reply (or its timeout); returns what stops waiting. */
  private expectReply(envelope: RequestEnvelope, callback: (packet: WritePacket) => void): () => void {
    const timer = setTimeout(() => void this.onTimeout(envelope.id, envelope.pattern), this.options.timeoutMs);
    this.pending.set(envelope.id, { callback, timer });
    return () => {
      clearTimeout(timer);
      this.pending.delete(envelope.id);
    };
  }

  protected async dispatchEvent<T = undefined>(packet: ReadPacket): Promise<T> {
    const envelope: RequestEnvelope = {
      id: randomUUID(),
      pattern: this.normalizePattern(packet.pattern),
      data: packet.data,
      deadline: Date.now() + this.options.timeoutMs,
      trace: injectContext(),
      request_id: currentCallContext()?.request_id,
    };
    await this.commands!.lpush(this.queue, JSON.stringify(envelope));
    return undefined as T;
  }

  private onReply(message: string): void {
    let reply: ReplyEnvelope;
    try {
      reply = JSON.parse(message) as ReplyEnvelope;
    } catch {
      this.logger.warn('unparseable reply dropped');
      return;
    }
    const p = this.pending.get(reply.id);
    if (!p) return; // timed out already
    clearTimeout(p.timer);
    this.pending.delete(reply.id);
    if (reply.err) p.callback({ err: reply.err, isDisposed: true });
    else p.callback({ response: reply.response, isDisposed: true });
  }

  private async onTimeout(id: string, pattern: string): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    let live = -1;
    try {
      live = await this.commands!.zcount(keys.alive(this.options.prefix, this.options.service), Date.now(), '+inf');
    } catch {
      // Redis itself is unreachable; the message below still names the service
    }
    const why = live === 0 ? `no ${this.options.service} instance is running` : `no answer within ${this.options.timeoutMs} ms`;
    p.callback({ err: { code: 'service_unavailable', message: `${this.options.service} service unavailable (${pattern}): ${why}` }, isDisposed: true });
  }
}
