import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

const TYPES = new Map<number, string>([
  [400, 'invalid_request_error'],
  [401, 'authentication_error'],
  [403, 'permission_error'],
  [404, 'not_found_error'],
  [413, 'request_too_large'],
  [429, 'rate_limit_error'],
  [500, 'api_error'],
  [529, 'overloaded_error'],
]);

export function anthropicErrorType(status: number): string {
  return TYPES.get(status) ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** Anthropic's error body: `{ type: 'error', error: { type, message } }`. */
export function anthropicError(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ type: 'error', error: { type: anthropicErrorType(status), message } });
}

export function anthropicErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  return anthropicError(reply, err.statusCode ?? 500, err.message);
}
