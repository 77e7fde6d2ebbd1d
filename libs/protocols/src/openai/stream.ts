import type { ErrorBody, TokenUsage } from '@gateway/contracts';
import { UpstreamStreamError, type StreamDecoder, type StreamEncoder } from '../codec';
import type { IREvent, IRRequest } from '../ir';
import { sseFrame, type SseEvent } from '../sse/sse-parser';
import { toOpenAIError } from './errors';
import { stopFromOpenAI, stopToOpenAI, usageFromOpenAI, usageToOpenAI } from './response';
import type { OpenAIChatChunk } from './types';

interface ToolCallDelta {
  index: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** OpenAI chat.completion.chunk events -> IR. */
export class OpenAIChatStreamDecoder implements StreamDecoder {
  private started = false;
  private done = false;
  private readonly seenCalls = new Set<number>();

  push(ev: SseEvent): IREvent[] {
    if (ev.data === '[DONE]') {
      this.done = true;
      return [];
    }
    const chunk = JSON.parse(ev.data) as OpenAIChatChunk & { error?: { message?: string } };
    if (chunk.error) throw new UpstreamStreamError(chunk.error.message ?? 'upstream stream error');
    const out: IREvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: 'start', id: chunk.id, model: (chunk.model as string) ?? '' });
    }
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta ?? {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) out.push({ type: 'thinking', text: delta.reasoning_content });
      if (typeof delta.content === 'string' && delta.content) out.push({ type: 'text', text: delta.content });
      for (const tc of (delta.tool_calls as ToolCallDelta[] | undefined) ?? []) {
        if (!this.seenCalls.has(tc.index)) {
          this.seenCalls.add(tc.index);
          out.push({ type: 'tool_call_start', index: tc.index, id: tc.id ?? `call_${tc.index}`, name: tc.function?.name ?? '' });
        }
        if (tc.function?.arguments) out.push({ type: 'tool_call_args', index: tc.index, delta: tc.function.arguments });
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

  private chunk(delta: Record<string, unknown>, finish: string | null = null): string {
    const c: Record<string, unknown> = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
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
        return [this.chunk(this.role({ content: ev.text }))];
      case 'thinking':
        return [this.chunk(this.role({ reasoning_content: ev.text }))];
      case 'tool_call_start':
        return [this.chunk(this.role({ content: null, tool_calls: [{ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: '' } }] }))];
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

  fail(error: ErrorBody): string[] {
    return [sseFrame(JSON.stringify(toOpenAIError(error).body))];
  }
}
