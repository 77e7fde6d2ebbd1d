import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

const STATUSES = new Map<number, string>([
  [400, 'INVALID_ARGUMENT'],
  [401, 'UNAUTHENTICATED'],
  [403, 'PERMISSION_DENIED'],
  [404, 'NOT_FOUND'],
  [409, 'ABORTED'],
  [429, 'RESOURCE_EXHAUSTED'],
  [499, 'CANCELLED'],
  [500, 'INTERNAL'],
  [501, 'NOT_IMPLEMENTED'],
  [503, 'UNAVAILABLE'],
  [504, 'DEADLINE_EXCEEDED'],
]);

export function geminiErrorStatus(code: number): string {
  return STATUSES.get(code) ?? (code >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
}

/** Google's error body: `{ error: { code, message, status } }`. */
export function geminiError(reply: FastifyReply, code: number, message: string) {
  return reply.code(code).send({ error: { code, message, status: geminiErrorStatus(code) } });
}

export function geminiErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  return geminiError(reply, err.statusCode ?? 500, err.message);
}
