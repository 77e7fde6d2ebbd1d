import { Injectable } from '@nestjs/common';
import {
  DomainError,
  imageCostMicros,
  secondsCostMicros,
  tokenCostMicros,
  tokenEstimateMicros,
  type HoldPlaced,
  type KeyPrincipal,
  type ModelKind,
  type ModelView,
  type RouteTarget,
} from '@gateway/contracts';
import { audioDurationMs, estimateTokens, openaiUpstream } from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FormData as UFormData, Response as UResponse } from 'undici';
import { AuthService } from '../auth/auth.service';
import { CallBillingService } from '../conversation/call-billing.service';
import { ModelCacheService } from '../registry/model-cache.service';
import { AdmissionService } from '../admission/admission.service';
import { setHoldId } from '../shared/request-context';
import { UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '../upstream/upstream.client';

interface Priced {
  principal: KeyPrincipal;
  model: ModelView;
  targets: RouteTarget[];
  hold: HoldPlaced;
  requestId: string;
}

/** go on with the call, or answer now: a dry run's estimate, or (body undefined) an idempotent replay already sent */
type Pricing = { go: Priced } | { answer: unknown };

type Body = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The OpenAI-style routes that are not conversations: embeddings, images, audio. Each is served by an
 * OpenAI-type channel as it is (model name mapped), and billed by its own unit: tokens, images or seconds.
 */
@Injectable()
export class MediaService {
  constructor(
    private readonly auth: AuthService,
    private readonly registry: ModelCacheService,
    private readonly upstream: UpstreamClient,
    private readonly billing: CallBillingService,
    private readonly admission: AdmissionService,
  ) {}

  async embeddings(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const body = this.jsonBody(req);
    const input = body.input;
    const texts = typeof input === 'string' ? [input] : Array.isArray(input) ? input.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : null;
    if (!texts || texts.length === 0) throw new DomainError('invalid_request', "'input' must be a string or a non-empty array", 'input');
    const priced = await this.price(req, reply, str(body.model), 'embedding', (m) => tokenEstimateMicros(m.pricing, estimateTokens(texts), 0));
    if (!('go' in priced)) return priced.answer;
    const p = priced.go;
    const res = await this.send(p, (t) => this.json('/embeddings', t, { ...body, model: t.upstream_model }));
    const out = (await this.readJson(p, res)) as { usage?: { prompt_tokens?: number; total_tokens?: number } };
    const tokens = out.usage?.prompt_tokens ?? out.usage?.total_tokens ?? estimateTokens(texts);
    const usage = { input_tokens: tokens, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 };
    await this.billing.settle(p.hold, p.principal, req.ttRequestId, p.model, res.target.channel_id, tokenCostMicros(p.model.pricing, usage), usage);
    return { ...out, model: body.model };
  }

  async imageGenerations(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const body = this.jsonBody(req);
    if (!str(body.prompt)) throw new DomainError('invalid_request', "'prompt' is required", 'prompt');
    const n = this.count(body.n);
    const priced = await this.price(req, reply, str(body.model), 'image', (m) => imageCostMicros(m.pricing, n));
    if (!('go' in priced)) return priced.answer;
    const p = priced.go;
    const res = await this.send(p, (t) => this.json('/images/generations', t, { ...body, model: t.upstream_model }));
    return this.settleImages(req, p, res);
  }

  async imageEdits(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const form = await this.formBody(req);
    if (!form.get('image') && !form.get('image[]')) throw new DomainError('invalid_request', "'image' is required", 'image');
    if (!str(form.get('prompt'))) throw new DomainError('invalid_request', "'prompt' is required", 'prompt');
    const n = this.count(form.get('n') ? Number(form.get('n')) : undefined);
    const priced = await this.price(req, reply, str(form.get('model')), 'image', (m) => imageCostMicros(m.pricing, n));
    if (!('go' in priced)) return priced.answer;
    const p = priced.go;
    const res = await this.send(p, (t) => this.multipart('/images/edits', t, form));
    return this.settleImages(req, p, res);
  }

  async transcriptions(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const form = await this.formBody(req);
    const file = form.get('file');
    if (!file || typeof file === 'string') throw new DomainError('invalid_request', "'file' is required", 'file');
    const audio = new Uint8Array(await file.arrayBuffer());
    const measured = audioDurationMs(audio);
    // the hold needs an upper bound; without a readable header, assume a low 16 kbit/s bitrate
    const boundMs = measured ?? (audio.byteLength / 2000) * 1000;
    const priced = await this.price(req, reply, str(form.get('model')), 'transcription', (m) => secondsCostMicros(m.pricing, boundMs));
    if (!('go' in priced)) return priced.answer;
    const p = priced.go;
    const res = await this.send(p, (t) => this.multipart('/audio/transcriptions', t, form));
    const type = String(res.headers['content-type'] ?? 'application/json');
    const text = await res.body.text();
    let seconds: number | undefined;
    if (type.includes('json')) {
      const j = JSON.parse(text) as { usage?: { type?: string; seconds?: number }; duration?: number };
      seconds = j.usage?.type === 'duration' ? j.usage.seconds : j.duration;
    }
    const ms = seconds !== undefined ? seconds * 1000 : (measured ?? boundMs);
    await this.billing.settle(p.hold, p.principal, req.ttRequestId, p.model, res.target.channel_id, secondsCostMicros(p.model.pricing, ms));
    void reply.header('content-type', type);
    return type.includes('json') ? JSON.parse(text) : text;
  }

  async speech(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const body = this.jsonBody(req);
    const input = str(body.input);
    if (!input) throw new DomainError('invalid_request', "'input' is required", 'input');
    if (!str(body.voice)) throw new DomainError('invalid_request', "'voice' is required", 'voice');
    const speed = typeof body.speed === 'number' && body.speed > 0 ? body.speed : 1;
    // speech runs near 15 characters a second; bound it at twice as slow, at the requested speed
    const boundMs = Math.ceil(((input.length / 15) * 2) / speed + 1) * 1000;
    const priced = await this.price(req, reply, str(body.model), 'speech', (m) => secondsCostMicros(m.pricing, boundMs));
    if (!('go' in priced)) return priced.answer;
    const p = priced.go;
    const res = await this.send(p, (t) => this.json('/audio/speech', t, { ...body, model: t.upstream_model }));
    const audio = new Uint8Array(await res.body.arrayBuffer());
    const ms = audioDurationMs(audio, str(body.response_format));
    if (ms === null) {
      await this.billing.release(p.hold, 'speech audio of unknown length');
      throw new DomainError('upstream_error', `cannot measure the ${str(body.response_format) ?? 'mp3'} audio the upstream returned; the call was not charged`);
    }
    await this.billing.settle(p.hold, p.principal, req.ttRequestId, p.model, res.target.channel_id, secondsCostMicros(p.model.pricing, ms));
    void reply.header('content-type', String(res.headers['content-type'] ?? 'application/octet-stream'));
    return Buffer.from(audio);
  }

  private async settleImages(req: FastifyRequest, p: Priced, res: UpstreamResponse): Promise<unknown> {
    const out = (await this.readJson(p, res)) as { data?: unknown[] };
    const images = Array.isArray(out.data) ? out.data.length : 0;
    await this.billing.settle(p.hold, p.principal, req.ttRequestId, p.model, res.target.channel_id, imageCostMicros(p.model.pricing, images));
    return out;
  }

  /** auth, model, scope, estimate, hold */
  private async price(req: FastifyRequest, reply: FastifyReply, name: string | undefined, kind: ModelKind, estimate: (m: ModelView) => number): Promise<Pricing> {
    const admitted = await this.admission.billed(this.auth.bearerKey(req), req, reply);
    if (!admitted) return { answer: undefined };
    const { principal, dryRun } = admitted;
    if (!name) throw new DomainError('invalid_request', "'model' is required", 'model');
    const { model, targets } = await this.registry.resolve(name);
    if (model.kind !== kind) throw new DomainError('invalid_request', `model ${model.id} is a ${model.kind} model, not a ${kind} model`, 'model');
    this.auth.assertModelAllowed(principal, model);
    const usable = targets.filter((t) => t.provider === 'openai');
    if (usable.length === 0) throw new DomainError('service_unavailable', `no OpenAI-type channel serves model ${model.id}`);
    const amount = estimate(model);
    const hold = await this.billing.hold(principal, req.ttRequestId, model, amount, { reply });
    setHoldId(req, reply, hold.hold_id);
    if (dryRun) return { answer: await this.billing.dryRunAnswer(hold, model.id, amount) };
    return { go: { principal, model, targets: usable, hold, requestId: req.ttRequestId } };
  }

  private async send(p: Priced, build: (t: RouteTarget) => UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return await this.upstream.post(p.targets, build, undefined, p.requestId);
    } catch (err) {
      await this.billing.release(p.hold, `upstream failed: ${(err as Error).message}`);
      throw err;
    }
  }

  private async readJson(p: Priced, res: UpstreamResponse): Promise<Body> {
    try {
      return (await res.body.json()) as Body;
    } catch (err) {
      await this.billing.release(p.hold, 'upstream body unreadable');
      throw new DomainError('upstream_error', `upstream sent an unreadable body: ${(err as Error).message}`);
    }
  }

  private json(path: string, t: RouteTarget, body: Body): UpstreamRequest {
    return { path, headers: openaiUpstream.headers(t.api_key), body: JSON.stringify(body) };
  }

  private multipart(path: string, t: RouteTarget, form: UFormData): UpstreamRequest {
    const out = new UFormData();
    for (const [k, v] of form.entries()) out.append(k, k === 'model' ? t.upstream_model : v);
    return { path, headers: { authorization: `Bearer ${t.api_key}` }, body: out };
  }

  private jsonBody(req: FastifyRequest): Body {
    if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body) || Buffer.isBuffer(req.body)) {
      throw new DomainError('invalid_request', 'the request body must be a JSON object', 'body');
    }
    return req.body as Body;
  }

  private async formBody(req: FastifyRequest): Promise<UFormData> {
    const type = req.headers['content-type'] ?? '';
    if (!Buffer.isBuffer(req.body) || !type.startsWith('multipart/form-data')) {
      throw new DomainError('invalid_request', 'this route takes multipart/form-data', 'body');
    }
    try {
      return await new UResponse(req.body, { headers: { 'content-type': type } }).formData();
    } catch (err) {
      throw new DomainError('invalid_request', `malformed multipart body: ${(err as Error).message}`, 'body');
    }
  }

  private count(n: unknown): number {
    if (n === undefined || n === null) return 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10) throw new DomainError('invalid_request', "'n' must be an integer from 1 to 10", 'n');
    return n;
  }
}
