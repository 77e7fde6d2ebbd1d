import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomToken, timePrefix } from '@gateway/contracts';

declare module 'fastify' {
  interface FastifyRequest {
    /** X-TT-Request-ID of this call */
    ttRequestId: string;
    /** X-TT-Hold-ID once a hold is placed */
    ttHoldId?: string;
  }
}

export const REQUEST_ID_HEADER = 'x-tt-request-id';
export const HOLD_ID_HEADER = 'x-tt-hold-id';

/**
 * `req_` + the time (timePrefix) + 16 random base64url characters (96 bits). Time-ordered for the same reason as
 * newId: the request id keys the request log and the usage records, both written on every call.
 */
export function newRequestId(): string {
  return `req_${timePrefix()}${randomToken(12)}`;
}

/** Every response of the public surface carries its request id, errors included. */
export function onRequestAssignId(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  req.ttRequestId = newRequestId();
  void reply.header(REQUEST_ID_HEADER, req.ttRequestId);
  done();
}

export function setHoldId(req: FastifyRequest, reply: FastifyReply, holdId: string): void {
  req.ttHoldId = holdId;
  void reply.header(HOLD_ID_HEADER, holdId);
}

/** X-TT-Dry-Run: true — auth, pricing and the hold the live call would place, then released; no upstream call. */
export function isDryRun(req: FastifyRequest): boolean {
  const v = req.headers['x-tt-dry-run'];
  return typeof v === 'string' && v.trim().toLowerCase() === 'true';
}
