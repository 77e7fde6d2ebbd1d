import type { TokenUsage } from '@gateway/contracts';
import { SseParser, UpstreamStreamError, type RelayTransform } from '@gateway/protocols';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { UpstreamResponse } from '../upstream/upstream.client';
import { HOLD_ID_HEADER, REQUEST_ID_HEADER } from '../shared/request-context';
import { markFirstByte, markUpstreamDone } from '../ops/ingress-metrics';

export type RelayOutcome =
  | { kind: 'completed'; usage: TokenUsage | null; produced: string }
  | { kind: 'client_gone'; usage: TokenUsage | null; produced: string }
  | { kind: 'upstream_failed'; reason: string };

/**
 * The one stream loop for every style pair: upstream bytes -> SSE events -> transform -> client, chunk by
 * chunk, never buffering the whole stream. It does not finish the response: the caller hands
 * the settle to the outbox (or releases the hold), then writes `transform.end()` (or `fail()`).
 */
export async function relayStream(
  upstream: UpstreamResponse,
  transform: RelayTransform,
  reply: FastifyReply,
  ids: { requestId: string; holdId: string },
  abort: AbortController,
  drainMs: number,
  /** sees every frame written to the client, in order (the response cache records a stream with it) */
  capture?: (frames: readonly string[]) => void,
): Promise<RelayOutcome> {
  reply.hijack();
  const res = reply.raw;
  // what the reply already holds (x-ratelimit-*, X-TT-Cache-Status…) goes out with the stream's own headers
  res.writeHead(200, {
    ...(reply.getHeaders() as OutgoingHttpHeaders),
    'content-type': transform.contentType,
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    [REQUEST_ID_HEADER]: ids.requestId,
    [HOLD_ID_HEADER]: ids.holdId,
  });
  // A client that goes away pays what the upstream bills for the call, and the upstream bills the whole
  // answer (reasoning included), which it reports only at the end: so the upstream is read on to its end
  // (the call's output bound limits how far), unless it takes longer than drainMs more.
  let clientGone = false;
  res.on('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      setTimeout(() => abort.abort(), drainMs).unref();
    }
  });
  // the frames of one upstream chunk go out in one write (one system call, one TCP segment), except that the
  // stream's first frames go ahead of the rest of their chunk (relay, below)
  let first = true;
  const write = (frames: string[]) => {
    if (clientGone || frames.length === 0) return;
    capture?.(frames);
    markFirstByte(reply.request);
    res.write(frames.length === 1 ? frames[0] : frames.join(''));
    if (first) {
      // Node holds a response's writes (cork) until the end of the tick; the first one goes now, with the
      // headers, rather than after whatever else this tick does (measured: 0.2 ms at 200 streams/s)
      first = false;
      res.socket?.uncork();
    }
  };
  write(transform.begin());
  const parser = new SseParser();
  try {
    const relay = (events: Iterable<Parameters<RelayTransform['push']>[0]>) => {
      const out: string[] = [];
      try {
        for (const ev of events) {
          out.push(...transform.push(ev));
          // the stream's first frames leave before the rest of this batch is translated
          if (first && out.length > 0) write(out.splice(0));
        }
      } finally {
        write(out); // what came before an upstream error event still reaches the client
      }
    };
    for await (const bytes of upstream.body) {
      markUpstreamDone(reply.request);
      relay(parser.push(bytes as Buffer));
    }
    relay(parser.end());
  } catch (err) {
    if (clientGone) return { kind: 'client_gone', usage: transform.usage(), produced: transform.produced() };
    const reason = err instanceof UpstreamStreamError ? `the upstream reported an error mid-stream: ${err.message}` : `the upstream stream failed: ${(err as Error).message}`;
    return { kind: 'upstream_failed', reason };
  }
  if (clientGone) return { kind: 'client_gone', usage: transform.usage(), produced: transform.produced() };
  if (!transform.completed()) return { kind: 'upstream_failed', reason: 'the upstream closed the stream before it finished' };
  return { kind: 'completed', usage: transform.usage(), produced: transform.produced() };
}
