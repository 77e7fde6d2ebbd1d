import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, cacheSavingsMicros, type KeyPrincipal, type ModelView, type RouteTarget, type TokenUsage } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import {
  InvalidRequestError,
  PassthroughTransform,
  TranslatingTransform,
  UnsupportedFeatureError,
  countOutputTokens,
  estimateTokens,
  irRequestTexts,
  upstreamCodec,
  type ClientCodec,
  type IRRequest,
  type RelayTransform,
  type UpstreamCodec,
} from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { CallBillingService } from './call-billing.service';
import { ModelCacheService } from '../registry/model-cache.service';
import { AdmissionService } from '../admission/admission.service';
import { ResponseCacheService } from '../cache/response-cache.service';
import { setHoldId } from '../shared/request-context';
import { markUpstreamDone, markUpstreamSent, noteCall, noteChannel, serverTiming } from '../ops/ingress-metrics';
import { CONFIG } from '../shared/tokens';
import { genAiAttributes, UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '../upstream/upstream.client';
import { NATIVE } from './native';
import { callEstimateMicros, clientOutputBound, opaqueInputTexts, outputBound, outputChoices, pricedFeatures, scanBody, withOutputBound } from './call-bounds';
import { relayStream } from './stream-relay';

export interface RouteInfo {
  /** a model named by the path (Gemini) rather than the body */
  model?: string;
  /** streaming decided by the path (Gemini) rather than the body */
  stream?: boolean;
}

interface Call {
  codec: ClientCodec;
  principal: KeyPrincipal;
  model: ModelView;
  clientModel: string;
  raw: Record<string, unknown>;
  ir: IRRequest | null;
  untranslatable: UnsupportedFeatureError | null;
  stream: boolean;
  requestId: string;
  inputEstimate: number;
  /** the output tokens the hold covers: what the upstream is told it may produce */
  bound: number;
}

/** A request body decoded for its codec: IR when it translates, else why not (native upstreams may still take it). */
export function decodeBody(codec: ClientCodec, raw: unknown, route: RouteInfo): { ir: IRRequest | null; untranslatable: UnsupportedFeatureError | null } {
  try {
    return { ir: codec.decodeRequest(raw, route), untranslatable: null };
  } catch (err) {
    if (err instanceof UnsupportedFeatureError) return { ir: null, untranslatable: err };
    if (err instanceof InvalidRequestError) throw new DomainError('invalid_request', err.message, err.param);
    throw err;
  }
}

/**
 * One conversational call in any client style against any upstream kind: auth, price, hold, call the
 * channel (native pass-through when the upstream speaks the client's format, translation through the
 * internal form otherwise), relay or convert the answer, settle.
 */
@Injectable()
export class ConversationService {
  private readonly logger = new Logger(ConversationService.name);

  constructor(
    private readonly auth: AuthService,
    private readonly registry: ModelCacheService,
    private readonly upstream: UpstreamClient,
    private readonly billing: CallBillingService,
    private readonly admission: AdmissionService,
    private readonly cache: ResponseCacheService,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {}

  async run(codec: ClientCodec, key: string | undefined, req: FastifyRequest, reply: FastifyReply, route: RouteInfo = {}): Promise<unknown> {
    // the rate limit is checked with the hold, in one round trip (below)
    const admitted = await this.admission.billed(key, req, reply, { deferLimit: true });
    if (!admitted) return undefined;
    const { principal, dryRun } = admitted;
    if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) throw new DomainError('invalid_request', 'the request body must be a JSON object', 'body');
    const raw = req.body as Record<string, unknown>;
    const { ir, untranslatable } = decodeBody(codec, raw, route);
    const clientModel = route.model ?? ir?.model ?? (typeof raw.model === 'string' ? raw.model : '');
    if (!clientModel) throw new DomainError('invalid_request', 'model is required', 'model');
    const stream = route.stream ?? ir?.stream ?? raw.stream === true;

    const { model, targets } = await this.registry.resolve(clientModel);
    noteCall(req, codec.style, model.id);
    if (model.kind !== 'chat') throw new DomainError('invalid_request', `model ${model.id} is a ${model.kind} model, not a chat model`, 'model');
    this.auth.assertModelAllowed(principal, model);
    // null when the cache is off for this call: no hashing, no round trip
    const cache = this.cache.slot(req, reply, principal, model.id, raw, stream, dryRun);
    const hit = cache && (await this.cache.lookup(cache, reply));
    if (hit) return this.cache.replay(hit, principal, reply);
    const usable = targets.filter((t) => upstreamCodec(t.provider));
    if (usable.length === 0) throw new DomainError('service_unavailable', `no chat channel serves model ${model.id}`);

    // the hold covers the dearest the call can be, and the upstream is held to the output bound it covers
    const { searches } = pricedFeatures(codec.style, raw, model);
    const inputEstimate = estimateTokens(ir ? [...irRequestTexts(ir), ...opaqueInputTexts(codec.style, raw)] : [JSON.stringify(raw)]);
    const bound = outputBound(clientOutputBound(codec.style, raw), model, this.config.DEFAULT_MAX_OUTPUT_TOKENS);
    const call: Call = { codec, principal, model, clientModel, raw, ir, untranslatable, stream, requestId: req.ttRequestId, inputEstimate, bound };
    // before any hold: which of the channels can take this body, natively or translated
    const requests = this.requestsFor(call, usable, req);
    // fallback models serve when every channel of this one fails; the hold covers the dearest of them all
    const tiers = [{ model, bound, requests }, ...(await this.fallbacks(call, req))];
    const scan = scanBody(raw);
    const choices = outputChoices(codec.style, raw);
    const estimate = Math.max(...tiers.map((t) => callEstimateMicros(t.model, inputEstimate, t.bound * choices, scan, searches)));
    const hold = await this.billing.hold(principal, req.ttRequestId, model, estimate, { admit: { reply, count: !dryRun } });
    setHoldId(req, reply, hold.hold_id);
    if (dryRun) return this.billing.dryRunAnswer(hold, clientModel, estimate);

    // only a stream is cut short (its client gone, see relayStream); an answer read whole is not, so it needs no signal
    const abort = stream ? new AbortController() : undefined;
    let res: UpstreamResponse;
    try {
      const all = new Map(tiers.flatMap((t) => [...t.requests]));
      markUpstreamSent(req);
      // an answer that is not streamed is read whole before anything is sent on
      res = await this.upstream.postTiers(tiers.map((t) => [...t.requests.keys()]), (t) => all.get(t)!, abort?.signal, { whole: !stream, requestId: call.requestId });
    } catch (err) {
      await this.billing.release(hold, `upstream failed: ${(err as Error).message}`);
      throw err;
    }
    noteChannel(req, res.target.channel_id);
    const native = this.isNative(call, res.target);
    // priced and recorded as the model that served (a fallback's own price)
    const served = tiers[res.tier].model;
    const settle = async (usage: TokenUsage, answer?: { stop_reason?: string; model?: string }) => {
      const cost = await this.billing.settleTokens(hold, principal, call.requestId, served, res.target.channel_id, usage);
      res.finish(genAiAttributes(usage, cost, answer));
      return cost;
    };

    if (!stream) {
      let body: Record<string, unknown>;
      try {
        body = (await res.body.json()) as Record<string, unknown>;
        markUpstreamDone(req);
      } catch (err) {
        await this.billing.release(hold, 'upstream body unreadable');
        throw new DomainError('upstream_error', `upstream sent an unreadable body: ${(err as Error).message}`);
      }
      const answer = this.wire(call, res.target, native).decodeResponse(body);
      const reported = answer.usage.input_tokens + answer.usage.output_tokens > 0;
      const usage = reported ? answer.usage : this.localUsage(call, answer.parts.map((p) => ('text' in p ? p.text : '')).join(''));
      const cost = await settle(usage, answer);
      // what the upstream's prompt cache served, and what that saved (a stream says it in its own usage event)
      reply.header('x-tt-cache-read-tokens', String(usage.cached_input_tokens));
      reply.header('x-tt-cache-savings-micros', String(cacheSavingsMicros(served.pricing, usage)));
      reply.header('server-timing', serverTiming(req));
      const sent = native ? NATIVE[codec.style].response(body, clientModel) : codec.encodeResponse({ ...answer, id: answer.id || call.requestId }, clientModel, ir!);
      return cache ? this.cache.storeJson(cache, reply, sent, cost, call.requestId) : sent;
    }

    const transform = this.transform(call, res.target, native);
    const outcome = await relayStream(res, transform, reply, { requestId: call.requestId, holdId: hold.hold_id }, abort!, this.config.CLIENT_GONE_DRAIN_MS, cache?.capture);
    const out = reply.raw;
    switch (outcome.kind) {
      case 'completed': {
        const cost = await settle(outcome.usage ?? this.localUsage(call, outcome.produced));
        const tail = transform.end().join('');
        if (cache) this.cache.storeStream(cache, transform.contentType, tail, cost, call.requestId);
        out.end(tail);
        return undefined;
      }
      case 'client_gone':
        await settle(outcome.usage ?? this.localUsage(call, outcome.produced));
        return undefined;
      case 'upstream_failed':
        this.logger.warn({ msg: `${call.requestId}: ${outcome.reason}`, request_id: call.requestId });
        await this.billing.release(hold, outcome.reason);
        out.end(transform.fail({ code: 'upstream_error', message: outcome.reason }).join(''));
        return undefined;
    }
  }

  /**
   * The model's fallbacks that can serve this call (chat models the key may use, with a channel that can
   * take the body), in order, each with its channels' requests; one that cannot is left out, not an error.
   */
  private async fallbacks(call: Call, req: FastifyRequest): Promise<Array<{ model: ModelView; bound: number; requests: Map<RouteTarget, UpstreamRequest> }>> {
    const out = [];
    for (const id of call.model.fallbacks ?? []) {
      try {
        const { model, targets } = await this.registry.resolve(id);
        if (model.kind !== 'chat') continue;
        this.auth.assertModelAllowed(call.principal, model);
        pricedFeatures(call.codec.style, call.raw, model);
        const bound = outputBound(clientOutputBound(call.codec.style, call.raw), model, this.config.DEFAULT_MAX_OUTPUT_TOKENS);
        out.push({ model, bound, requests: this.requestsFor({ ...call, model, bound }, targets.filter((t) => upstreamCodec(t.provider)), req) });
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
      }
    }
    return out;
  }

  /**
   * Decided per channel: a channel of the provider that speaks the client's style takes the body as it is
   * (on that style's own route); any other takes it translated, or cannot take it at all.
   */
  private isNative(call: Call, target: RouteTarget): boolean {
    return call.codec.nativeProvider === target.provider;
  }

  /** The upstream's route and decoders for this call on this channel: the style's own route when the body passes through. */
  private wire(call: Call, target: RouteTarget, native: boolean): Pick<UpstreamCodec, 'path' | 'decodeResponse' | 'streamDecoder'> {
    return (native && NATIVE[call.codec.style].wire) || upstreamCodec(target.provider)!;
  }

  /**
   * The request for each channel that can take this body. A body only some upstreams can take (a Responses
   * body with `previous_response_id`, a chat body with `logprobs`…) goes to those, whatever their priority;
   * when none can, the call is refused with the first channel's reason (a 400 naming the field).
   */
  private requestsFor(call: Call, targets: RouteTarget[], req: FastifyRequest): Map<RouteTarget, UpstreamRequest> {
    const requests = new Map<RouteTarget, UpstreamRequest>();
    let refusal: DomainError | undefined;
    for (const t of targets) {
      try {
        requests.set(t, this.buildRequest(call, t, req));
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        refusal ??= err;
      }
    }
    if (requests.size === 0) throw refusal!;
    return requests;
  }

  private buildRequest(call: Call, target: RouteTarget, req: FastifyRequest): UpstreamRequest {
    const upstream = upstreamCodec(target.provider)!;
    const headers = upstream.headers(target.api_key);
    if (this.isNative(call, target)) {
      const beta = req.headers['anthropic-beta'];
      if (target.provider === 'anthropic' && typeof beta === 'string') headers['anthropic-beta'] = beta;
      const native = NATIVE[call.codec.style];
      const body = withOutputBound(call.codec.style, native.body(call.raw, target.upstream_model, call.stream), call.bound);
      return { path: this.wire(call, target, true).path(target.upstream_model, call.stream), headers, body: JSON.stringify(body) };
    }
    if (!call.ir) {
      const e = call.untranslatable!;
      throw new DomainError('invalid_request', `${e.message} (model ${call.model.id} is served by a ${target.provider} channel)`, e.param);
    }
    try {
      const body = upstream.encodeRequest({ ...call.ir, stream: call.stream, max_tokens: call.bound }, target.upstream_model);
      return { path: upstream.path(target.upstream_model, call.stream), headers, body: JSON.stringify(body) };
    } catch (err) {
      if (err instanceof UnsupportedFeatureError || err instanceof InvalidRequestError) {
        throw new DomainError('invalid_request', `${err.message} (model ${call.model.id} is served by a ${target.provider} channel)`, err.param);
      }
      throw err;
    }
  }

  private transform(call: Call, target: RouteTarget, native: boolean): RelayTransform {
    const decoder = this.wire(call, target, native).streamDecoder();
    const irReq: IRRequest = call.ir ?? { model: call.clientModel, messages: [], stream: true, stream_usage: (call.raw.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true };
    const encoder = call.codec.streamEncoder(call.clientModel, irReq);
    if (native) return new PassthroughTransform(decoder, encoder, NATIVE[call.codec.style].hooks({ clientModel: call.clientModel, streamUsage: irReq.stream_usage === true, sse: encoder.contentType.startsWith('text/event-stream') }));
    return new TranslatingTransform(decoder, encoder);
  }

  /** Only where the upstream reported no usage: the prompt by the hold's estimate, the output counted here. */
  private localUsage(call: Call, produced: string): TokenUsage {
    return { input_tokens: call.inputEstimate, cached_input_tokens: 0, output_tokens: countOutputTokens(produced), reasoning_tokens: 0 };
  }
}
