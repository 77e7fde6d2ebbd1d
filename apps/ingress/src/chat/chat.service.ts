import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DomainError,
  tokenEstimateMicros,
  type HoldPlaced,
  type KeyPrincipal,
  type ModelView,
  type TokenUsage,
} from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import {
  SseParser,
  chatRequestText,
  countOutputTokens,
  estimateTokens,
  parseChatRequest,
  toOpenAIError,
  usageFromOpenAI,
  type OpenAIChatChunk,
  type OpenAIChatCompletion,
  type OpenAIChatRequest,
} from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { ModelCacheService } from '../registry/model-cache.service';
import { HOLD_ID_HEADER, REQUEST_ID_HEADER, setHoldId } from '../shared/request-context';
import { CONFIG } from '../shared/tokens';
import { UpstreamClient, type UpstreamResponse } from '../upstream/upstream.client';
import { CallBillingService } from './call-billing.service';

interface CallContext {
  principal: KeyPrincipal;
  model: ModelView;
  request: OpenAIChatRequest;
  requestId: string;
  hold: HoldPlaced;
  inputEstimate: number;
}

@Injectable()
export class ChatService {
  private readonly logger = new Logger(ChatService.name);

  constructor(
    private readonly auth: AuthService,
    private readonly registry: ModelCacheService,
    private readonly upstream: UpstreamClient,
    private readonly billing: CallBillingService,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {}

  /** Returns the JSON body for a plain call; for a stream, writes the response itself and returns undefined. */
  async complete(req: FastifyRequest, reply: FastifyReply): Promise<OpenAIChatCompletion | undefined> {
    const principal = await this.auth.authenticate(this.auth.bearerKey(req));
    const parsed = parseChatRequest(req.body);
    if (!parsed.ok) throw new DomainError('invalid_request', parsed.message, parsed.param);
    const request = parsed.value;
    const { model, targets } = await this.registry.resolve(request.model);
    if (model.kind !== 'chat') throw new DomainError('invalid_request', `model ${model.id} is a ${model.kind} model, not a chat model`, 'model');
    this.auth.assertModelAllowed(principal, model);

    const inputEstimate = estimateTokens(chatRequestText(request));
    const maxOutput = request.max_completion_tokens ?? request.max_tokens ?? model.limits.max_output_tokens ?? this.config.DEFAULT_MAX_OUTPUT_TOKENS;
    const estimate = tokenEstimateMicros(model.pricing, inputEstimate, maxOutput);
    const hold = await this.billing.hold(principal, req.ttRequestId, model, estimate);
    setHoldId(req, reply, hold.hold_id);
    const call: CallContext = { principal, model, request, requestId: req.ttRequestId, hold, inputEstimate };

    const abort = new AbortController();
    let upstream: UpstreamResponse;
    try {
      upstream = await this.upstream.post(
        targets,
        '/chat/completions',
        (t) => ({
          body: JSON.stringify({
            ...request,
            model: t.upstream_model,
            ...(request.stream ? { stream_options: { ...(request.stream_options ?? {}), include_usage: true } } : {}),
          }),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.api_key}` },
        }),
        abort.signal,
      );
    } catch (err) {
      await this.billing.release(hold, `upstream failed: ${(err as Error).message}`);
      throw err;
    }
    return request.stream ? this.stream(call, upstream, reply, abort).then(() => undefined) : this.plain(call, upstream);
  }

  private async plain(call: CallContext, upstream: UpstreamResponse): Promise<OpenAIChatCompletion> {
    let body: OpenAIChatCompletion;
    try {
      body = (await upstream.body.json()) as OpenAIChatCompletion;
    } catch (err) {
      await this.billing.release(call.hold, 'upstream body unreadable');
      throw new DomainError('upstream_error', `upstream sent an unreadable body: ${(err as Error).message}`);
    }
    const usage = usageFromOpenAI(body.usage) ?? this.localUsage(call, body.choices?.map((c) => c.message?.content ?? '').join('') ?? '');
    await this.billing.settleTokens(call.hold, call.principal, call.requestId, call.model, upstream.target.channel_id, usage);
    return { ...body, model: call.request.model };
  }

  /**
   * Relays the upstream's SSE chunk by chunk. The usage chunk the gateway asked for is dropped unless the
   * client asked for it too. An upstream that dies mid-stream gets the client an error event (not a clean
   * end) and no charge; a client that goes away aborts the upstream and pays for what was produced.
   */
  private async stream(call: CallContext, upstream: UpstreamResponse, reply: FastifyReply, abort: AbortController): Promise<void> {
    const clientWantsUsage = call.request.stream_options?.include_usage === true;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      [REQUEST_ID_HEADER]: call.requestId,
      [HOLD_ID_HEADER]: call.hold.hold_id,
    });
    let clientGone = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        abort.abort();
      }
    });

    const parser = new SseParser();
    let usage: TokenUsage | null = null;
    let produced = '';
    let sawDone = false;
    let failure: string | undefined;
    try {
      for await (const bytes of upstream.body) {
        for (const ev of parser.push(bytes as Buffer)) {
          if (ev.data === '[DONE]') {
            sawDone = true;
            continue;
          }
          let chunk: OpenAIChatChunk;
          try {
            chunk = JSON.parse(ev.data) as OpenAIChatChunk;
          } catch {
            continue;
          }
          if (chunk.usage) usage = usageFromOpenAI(chunk.usage) ?? usage;
          for (const choice of chunk.choices ?? []) {
            if (typeof choice.delta?.content === 'string') produced += choice.delta.content;
          }
          if (!clientWantsUsage) {
            if ((chunk.choices?.length ?? 0) === 0 && chunk.usage) continue;
            delete chunk.usage;
          }
          chunk.model = call.request.model;
          res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        }
      }
      if (!sawDone) failure = 'the upstream closed the stream before it finished';
    } catch (err) {
      if (!clientGone) failure = `the upstream stream failed: ${(err as Error).message}`;
    }

    if (clientGone) {
      const used = usage ?? this.localUsage(call, produced);
      await this.billing.settleTokens(call.hold, call.principal, call.requestId, call.model, upstream.target.channel_id, used);
      return;
    }
    // money is settled before the stream's last event, so a client that sees the end sees its final balance
    if (failure) {
      this.logger.warn(`${call.requestId}: ${failure}`);
      await this.billing.release(call.hold, failure);
      const { body } = toOpenAIError({ code: 'upstream_error', message: failure });
      res.end(`data: ${JSON.stringify(body)}\n\n`);
      return;
    }
    await this.billing.settleTokens(call.hold, call.principal, call.requestId, call.model, upstream.target.channel_id, usage ?? this.localUsage(call, produced));
    res.end('data: [DONE]\n\n');
  }

  /** Only where the upstream reported no usage: the prompt by the hold's estimate, the output counted here. */
  private localUsage(call: CallContext, produced: string): TokenUsage {
    return { input_tokens: call.inputEstimate, cached_input_tokens: 0, output_tokens: countOutputTokens(produced), reasoning_tokens: 0 };
  }
}
