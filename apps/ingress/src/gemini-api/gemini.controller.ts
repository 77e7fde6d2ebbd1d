import { Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import { geminiClient, type ClientCodec } from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { ConversationService } from '../conversation/conversation.service';
import { respond } from '../conversation/respond';
import { TokenCountService, type CountSpec } from '../conversation/token-count.service';
import { ModelCacheService } from '../registry/model-cache.service';
import { AdmissionService } from '../admission/admission.service';

const COUNT: CountSpec = {
  codec: geminiClient(true),
  provider: 'gemini',
  path: (model) => `/v1beta/models/${encodeURIComponent(model)}:countTokens`,
  body: (raw) => raw,
  shape: (n) => ({ totalTokens: n }),
  read: (a) => Number(a.totalTokens),
};

const SSE = geminiClient(true);
const ARRAY = geminiClient(false);

/** Gemini native routes: `/v1beta/models/{model}:{action}`. */
@Controller('v1beta/models')
export class GeminiController {
  constructor(
    private readonly auth: AuthService,
    private readonly conversation: ConversationService,
    private readonly counter: TokenCountService,
    private readonly registry: ModelCacheService,
    private readonly admission: AdmissionService,
  ) {}

  @Post(':modelAction')
  action(@Param('modelAction') modelAction: string, @Query('alt') alt: string | undefined, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const i = modelAction.lastIndexOf(':');
    const model = decodeURIComponent(i > 0 ? modelAction.slice(0, i) : modelAction).replace(/^models\//, '');
    const verb = i > 0 ? modelAction.slice(i + 1) : '';
    const key = this.auth.geminiKey(req);
    switch (verb) {
      case 'generateContent':
        return respond('/v1beta/models/{model}:generateContent', req, reply, () => this.conversation.run(SSE, key, req, reply, { model, stream: false }));
      case 'streamGenerateContent': {
        const codec: ClientCodec = alt === 'sse' ? SSE : ARRAY;
        return respond('/v1beta/models/{model}:streamGenerateContent', req, reply, () => this.conversation.run(codec, key, req, reply, { model, stream: true }));
      }
      case 'countTokens':
        return respond('/v1beta/models/{model}:countTokens', req, reply, () => this.counter.count(COUNT, key, req, reply, { model }));
      default:
        throw new DomainError('not_found', `unknown method '${verb}'; use generateContent, streamGenerateContent or countTokens`);
    }
  }

  @Get()
  async list(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const principal = await this.admission.read(this.auth.geminiKey(req), reply);
    const models = (await this.registry.list()).filter(
      (m) => m.kind === 'chat' && (principal.models.length === 0 || principal.models.includes(m.id) || m.aliases.some((a) => principal.models.includes(a))),
    );
    return {
      models: models.map((m) => ({
        name: `models/${m.id}`,
        version: '001',
        displayName: m.id,
        inputTokenLimit: m.limits.context_tokens ?? 128_000,
        outputTokenLimit: m.limits.max_output_tokens ?? 8192,
        supportedGenerationMethods: ['generateContent', 'streamGenerateContent', 'countTokens'],
      })),
    };
  }
}
