import { Injectable } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import { approxTokens, irRequestTexts, upstreamCodec, type ClientCodec } from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdmissionService } from '../admission/admission.service';
import { AuthService } from '../auth/auth.service';
import { ModelCacheService } from '../registry/model-cache.service';
import { UpstreamClient } from '../upstream/upstream.client';
import { decodeBody } from './conversation.service';

export interface CountSpec {
  codec: ClientCodec;
  /** the provider whose own count endpoint answers, when the model has a channel of it */
  provider: 'anthropic' | 'gemini';
  path: (upstreamModel: string) => string;
  body: (raw: Record<string, unknown>, upstreamModel: string) => Record<string, unknown>;
  /** the count in the style's response shape */
  shape: (tokens: number) => Record<string, number>;
  /** the token count out of the provider's own answer */
  read: (answer: Record<string, unknown>) => number;
}

/** Token counting is free: no hold, no charge. Forwarded to the provider when it serves the model, else counted here. */
@Injectable()
export class TokenCountService {
  constructor(
    private readonly auth: AuthService,
    private readonly registry: ModelCacheService,
    private readonly upstream: UpstreamClient,
    private readonly admission: AdmissionService,
  ) {}

  async count(spec: CountSpec, key: string | undefined, req: FastifyRequest, reply: FastifyReply, route: { model?: string }): Promise<Record<string, number>> {
    const principal = await this.admission.read(key, reply);
    if (!req.body || typeof req.body !== 'object') throw new DomainError('invalid_request', 'the request body must be a JSON object', 'body');
    const raw = req.body as Record<string, unknown>;
    const { ir } = decodeBody(spec.codec, raw, route);
    const name = route.model ?? ir?.model ?? (typeof raw.model === 'string' ? raw.model : '');
    if (!name) throw new DomainError('invalid_request', 'model is required', 'model');
    const { model, targets } = await this.registry.resolve(name);
    this.auth.assertModelAllowed(principal, model);
    const native = targets.filter((t) => t.provider === spec.provider);
    if (native.length > 0) {
      const codec = upstreamCodec(spec.provider)!;
      const res = await this.upstream.post(
        native,
        (t) => ({ path: spec.path(t.upstream_model), headers: codec.headers(t.api_key), body: JSON.stringify(spec.body(raw, t.upstream_model)) }),
      );
      return spec.shape(spec.read((await res.body.json()) as Record<string, unknown>));
    }
    return spec.shape(approxTokens(ir ? irRequestTexts(ir) : [JSON.stringify(raw)]));
  }
}
