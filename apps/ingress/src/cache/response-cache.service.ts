import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, type KeyPrincipal } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

export const CACHE_HEADER = 'x-tt-cache';
export const CACHE_STATUS_HEADER = 'x-tt-cache-status';
export const CACHE_SAVINGS_HEADER = 'x-tt-cache-savings-micros';
const JSON_TYPE = 'application/json; charset=utf-8';

/** Body fields that say who asks, not what: two requests differing only in these share an entry. */
const IGNORED_FIELDS = new Set(['user', 'metadata']);

/** JSON with every object's keys in sorted order, so bodies that differ only in key order serialise alike. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface CacheRequest {
  /** the public route as called (its path names the API style; Gemini's also the model and the verb) */
  route: string;
  /** the registry's id of the model the request resolved to */
  model: string;
  /** a stream and a single body are different answers */
  stream: boolean;
  body: Record<string, unknown>;
  /** request headers that change the answer (anthropic-beta) */
  vary?: Record<string, string>;
}

/** sha256 of the normalised request: route, resolved model, framing and body (minus user and metadata), keys sorted. */
export function requestFingerprint(r: CacheRequest): string {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.body)) if (!IGNORED_FIELDS.has(k)) body[k] = v;
  return createHash('sha256')
    .update(stableJson({ route: r.route, model: r.model, stream: r.stream, body, vary: r.vary ?? {} }))
    .digest('hex');
}

/** temperature > 0 with no seed (top level, or Gemini's generationConfig): a stored answer would not stand for the next one. */
export function samplesRandomly(body: Record<string, unknown>): boolean {
  const gen = body.generationConfig !== null && typeof body.generationConfig === 'object' ? (body.generationConfig as Record<string, unknown>) : {};
  const temperature = body.temperature ?? gen.temperature;
  const seed = body.seed ?? gen.seed;
  return typeof temperature === 'number' && temperature > 0 && (seed === undefined || seed === null);
}

/** What a miss left for the next identical request. */
interface Entry {
  /** json: one body; stream: the frames the client was sent, in order, as one string */
  kind: 'json' | 'stream';
  content_type: string;
  body: string;
  /** what the miss was charged: a hit saves the client exactly this */
  cost_micros: number;
  /** the call whose answer this is */
  request_id: string;
}

/** One call with the cache on: where its answer is looked up and stored, and, for a stream, the frames it sent. */
export class CacheSlot {
  private frames: string[] | null = [];
  private bytes = 0;

  constructor(
    readonly key: string,
    readonly ttlS: number,
    private readonly maxBytes: number,
  ) {}

  /** Tees the frames the relay writes to the client. Past the bound it keeps nothing, and nothing is stored. */
  readonly capture = (frames: readonly string[]): void => {
    if (!this.frames) return;
    for (const f of frames) {
      this.bytes += Buffer.byteLength(f);
      if (this.bytes > this.maxBytes) {
        this.frames = null;
        return;
      }
      this.frames.push(f);
    }
  };

  /** Everything captured, or null when it outgrew the bound. */
  captured(): string | null {
    return this.frames && this.frames.join('');
  }
}

/**
 * The gateway's own response cache (API.md, "The gateway's response cache"), per account in Redis.
 * Opt-in by the key's cache_ttl_s or the X-TT-Cache request header (the header wins). A hit answers
 * with what the miss sent, free of charge: no hold, no upstream call, no usage record. Only a 200 that
 * was settled is stored, a stream only when it completed and stayed within CACHE_MAX_ENTRY_BYTES.
 */
@Injectable()
export class ResponseCacheService {
  private readonly logger = new Logger(ResponseCacheService.name);

  constructor(
    @Inject(REDIS_CMD) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
    private readonly limits: RateLimitService,
  ) {}

  /**
   * The call's slot, or null when the cache is off for it (then it costs neither hashing nor a round
   * trip). Sets X-TT-Cache-Status to bypass for a call that will not use the cache; a dry run never does.
   */
  slot(req: FastifyRequest, reply: FastifyReply, principal: KeyPrincipal, modelId: string, body: Record<string, unknown>, stream: boolean, dryRun: boolean): CacheSlot | null {
    const ttlS = dryRun ? 0 : this.ttlFor(req, principal, body);
    if (ttlS === 0) {
      // on the raw response, so that a stream's own writeHead carries it too
      reply.raw.setHeader(CACHE_STATUS_HEADER, 'bypass');
      return null;
    }
    const beta = req.headers['anthropic-beta'];
    const fp = requestFingerprint({ route: routeOf(req), model: modelId, stream, body, vary: typeof beta === 'string' ? { 'anthropic-beta': beta } : undefined });
    return new CacheSlot(`${this.config.REDIS_PREFIX}rc:${principal.account_id}:${fp}`, ttlS, this.config.CACHE_MAX_ENTRY_BYTES);
  }

  /** The stored answer, or null (a miss, with X-TT-Cache-Status: miss set for the call that follows). */
  async lookup(slot: CacheSlot, reply: FastifyReply): Promise<Entry | null> {
    const raw = await this.redis.get(slot.key);
    if (raw !== null) {
      try {
        return JSON.parse(raw) as Entry;
      } catch {
        this.logger.warn(`response cache: unreadable entry ${slot.key}, treated as a miss`);
      }
    }
    reply.raw.setHeader(CACHE_STATUS_HEADER, 'miss');
    return null;
  }

  /**
   * Answers a hit. A JSON body is returned for the route to send; a stream is written here, as the same
   * bytes with the same content type. A hit still counts as a request against the key's rate limit.
   */
  async replay(entry: Entry, principal: KeyPrincipal, reply: FastifyReply): Promise<string | undefined> {
    await this.limits.admit(principal, reply, true);
    reply.raw.setHeader(CACHE_STATUS_HEADER, 'hit');
    reply.raw.setHeader(CACHE_SAVINGS_HEADER, String(entry.cost_micros));
    if (entry.kind === 'json') {
      void reply.type(entry.content_type);
      return entry.body;
    }
    reply.hijack();
    // reply.getHeaders() has what Fastify would have sent (X-TT-Request-ID, x-ratelimit-*) and the raw ones above
    reply.raw.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), 'content-type': entry.content_type, 'cache-control': 'no-cache', connection: 'keep-alive' });
    reply.raw.end(entry.body);
    return undefined;
  }

  /** A settled JSON answer of a miss: stored, and returned serialised (once) as the bytes the route sends. */
  storeJson(slot: CacheSlot, reply: FastifyReply, answer: unknown, costMicros: number, requestId: string): string {
    const body = JSON.stringify(answer);
    void reply.type(JSON_TYPE);
    if (Buffer.byteLength(body) <= this.config.CACHE_MAX_ENTRY_BYTES) this.put(slot, { kind: 'json', content_type: JSON_TYPE, body, cost_micros: costMicros, request_id: requestId });
    return body;
  }

  /** A settled, completed stream of a miss: the frames captured, then the closing ones (tail). */
  storeStream(slot: CacheSlot, contentType: string, tail: string, costMicros: number, requestId: string): void {
    slot.capture([tail]);
    const body = slot.captured();
    if (body !== null) this.put(slot, { kind: 'stream', content_type: contentType, body, cost_micros: costMicros, request_id: requestId });
  }

  private ttlFor(req: FastifyRequest, principal: KeyPrincipal, body: Record<string, unknown>): number {
    const keyTtl = principal.cache_ttl_s;
    const h = req.headers[CACHE_HEADER];
    if (h === undefined) return keyTtl > 0 && !samplesRandomly(body) ? keyTtl : 0;
    const v = typeof h === 'string' ? h.trim().toLowerCase() : '';
    if (v === 'off') return 0;
    // asked for explicitly: cached even when sampling at a temperature
    if (v === 'on') return keyTtl > 0 ? keyTtl : this.config.CACHE_DEFAULT_TTL_S;
    throw new DomainError('invalid_request', "X-TT-Cache must be 'on' or 'off'", 'X-TT-Cache');
  }

  // the response does not wait for the store: a lost store only costs the next identical call a miss
  private put(slot: CacheSlot, entry: Entry): void {
    this.redis.set(slot.key, JSON.stringify(entry), 'EX', slot.ttlS).catch((err: Error) => this.logger.warn(`response cache store ${slot.key}: ${err.message}`));
  }
}

/** The path as called, and Gemini's `alt` (SSE or a JSON array); never the query's `key`. */
function routeOf(req: FastifyRequest): string {
  const path = req.url.split('?', 1)[0];
  const alt = (req.query as Record<string, unknown> | undefined)?.alt;
  return typeof alt === 'string' ? `${path}?alt=${alt}` : path;
}
