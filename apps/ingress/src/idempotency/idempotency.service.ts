import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import { hash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { HOLD_ID_HEADER, REQUEST_ID_HEADER } from '../shared/request-context';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

const KEEP_MS = 24 * 60 * 60 * 1000;
// (not the first answer's Server-Timing: a replay reaches no upstream)
const REPLAYED_HEADERS = ['content-type', REQUEST_ID_HEADER, HOLD_ID_HEADER];

interface InFlight {
  state: 'in_flight';
  fp: string;
}

interface Done {
  state: 'done';
  fp: string;
  status: number;
  headers: Record<string, string>;
  /** base64 of the bytes the client was sent: a JSON body, an audio file, or a whole SSE stream */
  body: string;
}

const sha256 = (data: string | Buffer) => hash('sha256', data, 'hex');

/**
 * Idempotency-Key, scoped to the account and kept 24 h. The first request with a key takes a lease
 * (SET NX) and runs; its response, stream included, is recorded as it is sent. A repeat gets that
 * response again (with X-TT-Idempotent-Replay: true), 409 while the first is still running, 422 if its
 * body differs. Responses that a retry should not inherit (5xx, 409, 429) free the key instead.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger(IdempotencyService.name);

  constructor(
    @Inject(REDIS_CMD) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {}

  /** Returns true when the request was answered by a replay. Call after authentication. */
  async begin(req: FastifyRequest, reply: FastifyReply, accountId: string): Promise<boolean> {
    const header = req.headers['idempotency-key'];
    if (header === undefined) return false;
    if (typeof header !== 'string' || header.length === 0 || header.length > 255) {
      throw new DomainError('invalid_request', 'Idempotency-Key must be 1 to 255 characters', 'Idempotency-Key');
    }
    const fp = sha256(`${req.method} ${req.url.split('?')[0]}\n`) + sha256(Buffer.isBuffer(req.body) ? req.body : JSON.stringify(req.body ?? null));
    const key = `${this.config.REDIS_PREFIX}idem:${accountId}:${sha256(header)}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const lease: InFlight = { state: 'in_flight', fp };
      // the lease outlives any call (a crashed ingress frees the key when it lapses)
      if (await this.redis.set(key, JSON.stringify(lease), 'PX', this.config.IDEMPOTENCY_LEASE_MS, 'NX')) {
        this.record(reply.raw, key, fp, req.ttRequestId);
        return false;
      }
      const raw = await this.redis.get(key);
      if (!raw) continue; // freed between our two commands: try to take it
      const rec = JSON.parse(raw) as InFlight | Done;
      if (rec.fp !== fp) throw new DomainError('idempotency_mismatch', 'this Idempotency-Key was already used with a different request');
      if (rec.state === 'in_flight') throw new DomainError('idempotency_in_flight', 'a request with this Idempotency-Key is still in progress', undefined, 1);
      reply.hijack();
      reply.raw.writeHead(rec.status, { ...rec.headers, 'x-tt-idempotent-replay': 'true' });
      reply.raw.end(Buffer.from(rec.body, 'base64'));
      return true;
    }
    throw new DomainError('idempotency_in_flight', 'a request with this Idempotency-Key is still in progress', undefined, 1);
  }

  /** Tees what is written to the client, and stores it (or frees the key) once the response is sent. */
  private record(res: ServerResponse, key: string, fp: string, requestId: string): void {
    const chunks: Buffer[] = [];
    // headers given to writeHead (Fastify and the stream relay pass them there) are not in getHeaders()
    const sent: Record<string, string> = {};
    const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => ServerResponse;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      const headers = rest.find((r) => r && typeof r === 'object') as Record<string, unknown> | undefined;
      for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) sent[k.toLowerCase()] = String(v);
      return writeHead(status, ...rest);
    }) as typeof res.writeHead;
    const toBuffer = (c: unknown) => (Buffer.isBuffer(c) ? c : typeof c === 'string' ? Buffer.from(c) : c instanceof Uint8Array ? Buffer.from(c) : null);
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      const b = toBuffer(chunk);
      if (b) chunks.push(b);
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      const b = typeof chunk === 'function' ? null : toBuffer(chunk);
      if (b) chunks.push(b);
      return end(chunk, ...rest);
    }) as typeof res.end;
    res.once('close', () => {
      const status = res.statusCode;
      // a stream the client left early is kept too: it was charged, so a retry must not run again
      const transient = status >= 500 || status === 409 || status === 429;
      const op = transient
        ? this.redis.del(key)
        : this.redis.set(
            key,
            JSON.stringify({
              state: 'done',
              fp,
              status,
              headers: Object.fromEntries(REPLAYED_HEADERS.map((h) => [h, sent[h] ?? res.getHeader(h)]).filter(([, v]) => v !== undefined).map(([h, v]) => [h, String(v)])),
              body: Buffer.concat(chunks).toString('base64'),
            } satisfies Done),
            'PX',
            KEEP_MS,
          );
      op.catch((err: Error) => this.logger.error({ msg: `idempotency record ${key}: ${err.message}`, request_id: requestId }));
    });
  }
}
