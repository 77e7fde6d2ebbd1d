import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export function openaiError(
  reply: FastifyReply,
  status: number,
  message: string,
  type = status < 500 ? 'invalid_request_error' : 'server_error',
  param: string | null = null,
  code: string | null = null,
) {
  return reply.code(status).send({ error: { message, type, param, code } });
}

/** The answer to [[mock:status=N]]. */
export function openaiForcedError(reply: FastifyReply, status: number) {
  const message = `mock forced status ${status}`;
  if (status === 429) return openaiError(reply, status, message, 'requests', null, 'rate_limit_exceeded');
  if (status === 401) return openaiError(reply, status, message, 'invalid_request_error', null, 'invalid_api_key');
  return openaiError(reply, status, message);
}

/** Body-parsing and other framework errors, in OpenAI's shape rather than Fastify's. */
export function openaiErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  return openaiError(reply, err.statusCode ?? 500, err.message);
}
