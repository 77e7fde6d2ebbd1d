import { Controller, Post, Req, Res } from '@nestjs/common';
import { anthropicClient, messagesToIR, type ClientCodec } from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { ConversationService } from '../conversation/conversation.service';
import { respond } from '../conversation/respond';
import { TokenCountService, type CountSpec } from '../conversation/token-count.service';

// count_tokens bodies carry no max_tokens, which a Messages request requires
const countCodec: ClientCodec = {
  ...anthropicClient,
  decodeRequest: (body) => messagesToIR({ max_tokens: 1, ...(body as object) }),
};

const COUNT: CountSpec = {
  codec: countCodec,
  provider: 'anthropic',
  path: () => '/v1/messages/count_tokens',
  body: (raw, model) => ({ ...raw, model }),
  shape: (n) => ({ input_tokens: n }),
  read: (a) => Number(a.input_tokens),
};

/** Claude native routes, also under /anthropic/v1/... */
@Controller()
export class AnthropicController {
  constructor(
    private readonly auth: AuthService,
    private readonly conversation: ConversationService,
    private readonly counter: TokenCountService,
  ) {}

  @Post(['v1/messages', 'anthropic/v1/messages'])
  messages(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/messages', req, reply, () => this.conversation.run(anthropicClient, this.auth.anthropicKey(req), req, reply));
  }

  @Post(['v1/messages/count_tokens', 'anthropic/v1/messages/count_tokens'])
  countTokens(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return respond('/v1/messages/count_tokens', req, reply, () => this.counter.count(COUNT, this.auth.anthropicKey(req), req, reply, {}));
  }
}
