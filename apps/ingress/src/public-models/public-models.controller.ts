import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { DomainError, type ModelView } from '@gateway/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdmissionService } from '../admission/admission.service';
import { AuthService } from '../auth/auth.service';
import { ModelCacheService } from '../registry/model-cache.service';

const CREATED = (iso: string) => Math.floor(Date.parse(iso) / 1000);

function openaiModel(m: ModelView) {
  return { id: m.id, object: 'model', created: CREATED(m.created_at), owned_by: 'gateway' };
}

/** GET /v1/models in OpenAI's shape: the models this key may call. */
@Controller('v1/models')
export class PublicModelsController {
  constructor(
    private readonly auth: AuthService,
    private readonly registry: ModelCacheService,
    private readonly admission: AdmissionService,
  ) {}

  /** OpenAI's list shape; Anthropic's when the caller is the Anthropic SDK (it sends anthropic-version). */
  @Get()
  async list(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const anthropic = typeof req.headers['anthropic-version'] === 'string';
    const principal = await this.admission.read(anthropic ? this.auth.anthropicKey(req) : this.auth.bearerKey(req), reply);
    const models = (await this.registry.list()).filter(
      (m) => principal.models.length === 0 || principal.models.includes(m.id) || m.aliases.some((a) => principal.models.includes(a)),
    );
    if (anthropic) {
      const data = models.map((m) => ({ type: 'model', id: m.id, display_name: m.id, created_at: m.created_at }));
      return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null };
    }
    return { object: 'list', data: models.map(openaiModel) };
  }

  @Get(':id')
  async get(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply, @Param('id') id: string) {
    const principal = await this.admission.read(this.auth.bearerKey(req), reply);
    const { model } = await this.registry.resolve(id);
    try {
      this.auth.assertModelAllowed(principal, model);
    } catch {
      throw new DomainError('model_not_found', `The model '${id}' does not exist or you do not have access to it.`, 'model');
    }
    return openaiModel(model);
  }
}
