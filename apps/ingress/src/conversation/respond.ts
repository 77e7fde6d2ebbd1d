import { SpanKind, withSpan } from '@gateway/tracing';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendAnswer } from './answer-writes';

/**
 * Runs a public route inside its server span. A handler that streams writes the reply itself and returns
 * undefined; anything else it returns is sent as JSON (batched with the turn's other answers: answer-writes.ts).
 */
export async function respond(route: string, req: FastifyRequest, reply: FastifyReply, handler: () => Promise<unknown>): Promise<void> {
  await withSpan(
    'ingress',
    `${req.method} ${route}`,
    { kind: SpanKind.SERVER, attributes: { 'gateway.request_id': req.ttRequestId, 'http.route': route } },
    async () => {
      // 200 unless the handler says otherwise (Nest would default a POST to 201)
      void reply.code(200);
      const body = await handler();
      if (body !== undefined && !reply.sent) await sendAnswer(reply, body);
    },
  );
}
