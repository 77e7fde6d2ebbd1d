import { Controller, Post, Req, Res } from '@nestjs/common';
import { SpanKind, withSpan } from '@gateway/tracing';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ChatService } from './chat.service';

@Controller()
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  // The reply is driven by hand: a stream hijacks it, a plain call sends its body here.
  @Post('v1/chat/completions')
  async completions(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await withSpan(
      'ingress',
      'POST /v1/chat/completions',
      { kind: SpanKind.SERVER, attributes: { 'gateway.request_id': req.ttRequestId, 'http.route': '/v1/chat/completions' } },
      async () => {
        const body = await this.chat.complete(req, reply);
        if (body !== undefined) await reply.code(200).send(body);
      },
    );
  }
}
