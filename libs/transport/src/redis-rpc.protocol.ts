import type { ErrorBody } from '@gateway/contracts';
import type { TraceCarrier } from '@gateway/tracing';

/**
 * The wire format of the Redis work-queue transport.
 *
 * Requests for a service go onto ONE Redis list; every instance of that service pops from it, so each
 * request is delivered to exactly one instance (unlike Redis pub/sub, which would broadcast to all).
 * Replies go to the caller's own pub/sub channel. A request carries its deadline: an instance that pops
 * it too late drops it, so a caller that already gave up never sees its work done behind its back.
 */
export interface RequestEnvelope {
  id: string;
  pattern: string;
  data: unknown;
  /** absent for events (fire and forget) */
  replyTo?: string;
  /**
   * epoch ms after which the caller no longer waits, and the request is dropped unseen; absent for
   * messages that must be applied whenever they arrive (idempotent ones)
   */
  deadline?: number;
  trace?: TraceCarrier;
  /** the X-TT-Request-ID of the call this request serves, so the callee's log lines carry it */
  request_id?: string;
}

export interface ReplyEnvelope {
  id: string;
  response?: unknown;
  err?: ErrorBody;
}

export const keys = {
  queue: (prefix: string, service: string) => `${prefix}rpc:q:${service}`,
  reply: (prefix: string, clientId: string) => `${prefix}rpc:r:${clientId}`,
  alive: (prefix: string, service: string) => `${prefix}rpc:alive:${service}`,
};

export const HEARTBEAT_MS = 1000;
export const ALIVE_TTL_MS = 3000;

/** How many instances of a service heartbeated within ALIVE_TTL_MS (readiness of their callers). */
export async function liveInstances(redis: { zcount(key: string, min: number | string, max: number | string): Promise<number> }, prefix: string, service: string): Promise<number> {
  return redis.zcount(keys.alive(prefix, service), Date.now(), '+inf');
}
