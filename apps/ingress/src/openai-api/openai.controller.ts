import { Controller, Post, Req, Res } from '@nestjs/common';
import { openaiClient, responsesClient } from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { ConversationService } from '../conversation/conversation.service';
import { respond } from '../conversation/respond';

@Controller('v1')
export class OpenAIChatController {
  constructor(
    private readonly auth: AuthService,
    private readonly conversation: ConversationService,
  ) {}

  @Post('chat/completions')
  completions(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/chat/completions', req, reply, () => this.conversation.run(openaiClient, this.auth.bearerKey(req), req, reply));
  }

  @Post('responses')
  responses(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/responses', req, reply, () => this.conversation.run(responsesClient, this.auth.bearerKey(req), req, reply));
  }
}
