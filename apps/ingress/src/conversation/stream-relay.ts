import type { TokenUsage } from '@gateway/contracts';
import { SseParser, UpstreamStreamError, type RelayTransform } from '@gateway/protocols';
import type { FastifyReply } from 'fastify';
import type { UpstreamResponse } from '../upstream/upstream.client';
import { HOLD_ID_HEADER, REQUEST_ID_HEADER } from '../shared/request-context';

export type RelayOutcome =
  | { kind: 'completed'; usage: TokenUsage | null; produced: string }
  | { kind: 'client_gone'; usage: TokenUsage | null; produced: string }
  | { kind: 'upstream_failed'; reason: string };

/**
 * The one stream loop for every style pair: upstream bytes -> SSE events -> transform -> client, chunk by
 * chunk, never buffering the whole stream. It does not finish the response: the caller settles the call,
 * then writes `transform.end()` (or `fail()`), so the client's last event comes after the money is booked.
 */
export async function relayStream(
  upstream: UpstreamResponse,
  transform: RelayTransform,
  reply: FastifyReply,
  ids: { requestId: string; holdId: string },
  abort: AbortController,
): Promise<RelayOutcome> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': transform.contentType,
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    [REQUEST_ID_HEADER]: ids.requestId,
    [HOLD_ID_HEADER]: ids.holdId,
  });
  let clientGone = false;
  res.on('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      abort.abort();
    }
  });
  const write = (frames: string[]) => {
    for (const f of frames) res.write(f);
  };
  write(transform.begin());
  const parser = new SseParser();
  try {
    for await (const bytes of upstream.body) {
      for (const ev of parser.push(bytes as Buffer)) write(transform.push(ev));
    }
    for (const ev of parser.end()) write(transform.push(ev));
  } catch (err) {
    if (clientGone) return { kind: 'client_gone', usage: transform.usage(), produced: transform.produced() };
    const reason = err instanceof UpstreamStreamError ? `the upstream reported an error mid-stream: ${err.message}` : `the upstream stream failed: ${(err as Error).message}`;
    return { kind: 'upstream_failed', reason };
  }
  if (clientGone) return { kind: 'client_gone', usage: transform.usage(), produced: transform.produced() };
  if (!transform.completed()) return { kind: 'upstream_failed', reason: 'the upstream closed the stream before it finished' };
  return { kind: 'completed', usage: transform.usage(), produced: transform.produced() };
}
