import type { TokenUsage } from '@gateway/contracts';
import { UpstreamStreamError, type StreamDecoder, type StreamEncoder, type StreamFailure } from '../codec';
import type { IREvent, IRRequest } from '../ir';
import { sseFrame, type SseEvent } from '../sse/sse-parser';
import { signedToolId } from '../signatures';
import { openaiErrorKind, toOpenAIStreamError } from './errors';
import { logprobsFromOpenAI, logprobsToOpenAI, stopFromOpenAI, stopToOpenAI, usageFromOpenAI, usageToOpenAI } from './response';
import type { OpenAIChatChunk } from './types';

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/**
 * OpenAI chat.completion.chunk events -> IR. Parallel calls are told apart by `index`, their pieces in any
 * interleaving. Some OpenAI-compatible servers number every call 0 (a new `id` there is a new call) or
 * leave `index` out (the position in `tool_calls` then); IR indexes count the calls from 0 as they appear.
 */
export class OpenAIChatStreamDecoder implements StreamDecoder {
  private started = false;
  private done = false;
  /** upstream index -> the IR index of the call it currently names, and the id the upstream gave it */
  private readonly callAt = new Map<number, { index: number; id?: string }>();
  private calls = 0;

  push(ev: SseEvent): IREvent[] {
    if (ev.data === '[DONE]') {
      this.done = true;
      return [];
    }
    const chunk = JSON.parse(ev.data) as OpenAIChatChunk & { error?: { message?: string; type?: unknown; code?: unknown } };
    if (chunk.error) throw new UpstreamStreamError(chunk.error.message ?? 'upstream stream error', openaiErrorKind(chunk.error));
    const out: IREvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: 'start', id: chunk.id, model: (chunk.model as string) ?? '' });
    }
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta ?? {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) out.push({ type: 'thinking', text: delta.reasoning_content });
      // a piece's log probabilities come in its own chunk
      const logprobs = logprobsFromOpenAI(choice.logprobs);
      if ((typeof delta.content === 'string' && delta.content) || logprobs?.length) {
        out.push({ type: 'text', text: typeof delta.content === 'string' ? delta.content : '', ...(logprobs?.length ? { logprobs } : {}) });
      }
      for (const [position, tc] of ((delta.tool_calls as ToolCallDelta[] | undefined) ?? []).entries()) {
        const at = typeof tc.index === 'number' ? tc.index : position;
        let call = this.callAt.get(at);
        if (!call || (tc.id && call.id && tc.id !== call.id)) {
          call = { index: this.calls++, id: tc.id };
          this.callAt.set(at, call);
          out.push({ type: 'tool_call_start', index: call.index, id: tc.id ?? `call_${call.index}`, name: tc.function?.name ?? '' });
        }
        if (tc.function?.arguments) out.push({ type: 'tool_call_args', index: call.index, delta: tc.function.arguments });
      }
      if (choice.finish_reason) out.push({ type: 'finish', stop_reason: stopFromOpenAI(choice.finish_reason) });
    }
    const usage = usageFromOpenAI(chunk.usage);
    if (usage) out.push({ type: 'usage', usage });
    return out;
  }

  completed(): boolean {
    return this.done;
  }
}

/** IR -> OpenAI chat.completion.chunk SSE, ending with the usage chunk (when asked for) and [DONE]. */
export class OpenAIChatStreamEncoder implements StreamEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  private id = `chatcmpl-${Date.now().toString(36)}`;
  private readonly created = Math.floor(Date.now() / 1000);
  private usage: TokenUsage | null = null;
  private roleSent = false;

  constructor(
    private readonly model: string,
    private readonly req: Pick<IRRequest, 'stream_usage'>,
  ) {}

  begin(): string[] {
    return [];
  }

  private chunk(delta: Record<string, unknown>, finish: string | null = null, logprobs: unknown = null): string {
    const c: Record<string, unknown> = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs, finish_reason: finish }],
    };
    if (this.req.stream_usage) c.usage = null;
    return sseFrame(JSON.stringify(c));
  }

  private role(delta: Record<string, unknown>): Record<string, unknown> {
    if (this.roleSent) return delta;
    this.roleSent = true;
    return { role: 'assistant', ...delta };
  }

  push(ev: IREvent): string[] {
    switch (ev.type) {
      case 'start':
        if (ev.id) this.id = ev.id.startsWith('chatcmpl-') ? ev.id : `chatcmpl-${ev.id}`;
        return [this.chunk(this.role({ content: '' }))];
      case 'text':
        return [this.chunk(this.role({ content: ev.text }), null, ev.logprobs ? logprobsToOpenAI(ev.logprobs) : null)];
      case 'thinking':
        return ev.text ? [this.chunk(this.role({ reasoning_content: ev.text }))] : [];
      case 'tool_call_start':
        return [this.chunk(this.role({ content: null, tool_calls: [{ index: ev.index, id: signedToolId(ev.id, ev.signature), type: 'function', function: { name: ev.name, arguments: '' } }] }))];
      case 'tool_call_args':
        return [this.chunk({ tool_calls: [{ index: ev.index, function: { arguments: ev.delta } }] })];
      case 'finish':
        return [this.chunk({}, stopToOpenAI(ev.stop_reason))];
      case 'usage':
        this.usage = ev.usage;
        return [];
    }
  }

  end(): string[] {
    const out: string[] = [];
    if (this.req.stream_usage && this.usage) {
      out.push(sseFrame(JSON.stringify({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: usageToOpenAI(this.usage) })));
    }
    out.push(sseFrame('[DONE]'));
    return out;
  }

  /** The error chunk, and no [DONE]: a client that skips error chunks still sees the stream end unfinished. */
  fail(error: StreamFailure): string[] {
    return [sseFrame(JSON.stringify(toOpenAIStreamError(error)))];
  }
}
