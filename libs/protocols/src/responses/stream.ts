import type { ErrorBody, TokenUsage } from '@gateway/contracts';
import type { StreamEncoder } from '../codec';
import { ZERO_USAGE, type IREvent, type IRRequest, type IRStopReason } from '../ir';
import { sseFrame } from '../sse/sse-parser';
import { responseEnvelope, rid, type OutputFunctionCall, type OutputMessage } from './response';

/**
 * IR -> the Responses API's semantic events: response.created, response.in_progress, then per output item
 * output_item.added, its part/argument deltas and done events, output_item.done, and response.completed
 * (or response.incomplete) with the whole response and usage. Every event has a sequence_number.
 */
export class ResponsesStreamEncoder implements StreamEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  private readonly id = rid('resp');
  private readonly createdAt = Math.floor(Date.now() / 1000);
  private seq = 0;
  private readonly output: Array<OutputMessage | OutputFunctionCall> = [];
  private current: { kind: 'message'; item: OutputMessage; text: string } | { kind: 'call'; item: OutputFunctionCall; index: number } | null = null;
  private stop: IRStopReason = 'stop';
  private usage: TokenUsage = { ...ZERO_USAGE };

  constructor(
    private readonly model: string,
    private readonly req: IRRequest,
  ) {}

  private ev(type: string, data: Record<string, unknown>): string {
    return sseFrame(JSON.stringify({ type, sequence_number: this.seq++, ...data }), type);
  }

  private envelope(status: 'in_progress' | 'completed' | 'incomplete' | 'failed', usage: TokenUsage | null) {
    return responseEnvelope(this.id, this.model, this.req, this.output, status, usage, this.createdAt);
  }

  begin(): string[] {
    return [this.ev('response.created', { response: this.envelope('in_progress', null) }), this.ev('response.in_progress', { response: this.envelope('in_progress', null) })];
  }

  private closeItem(): string[] {
    const c = this.current;
    if (!c) return [];
    this.current = null;
    const output_index = this.output.indexOf(c.item);
    if (c.kind === 'message') {
      const part = { type: 'output_text' as const, text: c.text, annotations: [] };
      c.item.content = [part];
      c.item.status = 'completed';
      return [
        this.ev('response.output_text.done', { item_id: c.item.id, output_index, content_index: 0, text: c.text, logprobs: [] }),
        this.ev('response.content_part.done', { item_id: c.item.id, output_index, content_index: 0, part }),
        this.ev('response.output_item.done', { output_index, item: c.item }),
      ];
    }
    c.item.status = 'completed';
    return [
      this.ev('response.function_call_arguments.done', { item_id: c.item.id, output_index, arguments: c.item.arguments }),
      this.ev('response.output_item.done', { output_index, item: c.item }),
    ];
  }

  push(ev: IREvent): string[] {
    switch (ev.type) {
      case 'text': {
        const out: string[] = [];
        if (this.current?.kind !== 'message') {
          out.push(...this.closeItem());
          const item: OutputMessage = { type: 'message', id: rid('msg'), status: 'in_progress', role: 'assistant', content: [] };
          this.output.push(item);
          this.current = { kind: 'message', item, text: '' };
          const output_index = this.output.length - 1;
          out.push(this.ev('response.output_item.added', { output_index, item: { ...item, content: [] } }));
          out.push(this.ev('response.content_part.added', { item_id: item.id, output_index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }));
        }
        const cur = this.current as { kind: 'message'; item: OutputMessage; text: string };
        cur.text += ev.text;
        out.push(this.ev('response.output_text.delta', { item_id: cur.item.id, output_index: this.output.indexOf(cur.item), content_index: 0, delta: ev.text, logprobs: [] }));
        return out;
      }
      case 'tool_call_start': {
        const out = this.closeItem();
        const item: OutputFunctionCall = { type: 'function_call', id: rid('fc'), call_id: ev.id, name: ev.name, arguments: '', status: 'in_progress' };
        this.output.push(item);
        this.current = { kind: 'call', item, index: ev.index };
        out.push(this.ev('response.output_item.added', { output_index: this.output.length - 1, item: { ...item } }));
        return out;
      }
      case 'tool_call_args': {
        const c = this.current;
        if (c?.kind !== 'call' || c.index !== ev.index) return [];
        c.item.arguments += ev.delta;
        return [this.ev('response.function_call_arguments.delta', { item_id: c.item.id, output_index: this.output.indexOf(c.item), delta: ev.delta })];
      }
      case 'finish':
        this.stop = ev.stop_reason;
        return [];
      case 'usage':
        this.usage = ev.usage;
        return [];
      default:
        return []; // start, thinking: reasoning items are not exposed
    }
  }

  end(): string[] {
    const out = this.closeItem();
    const status = this.stop === 'length' ? 'incomplete' : 'completed';
    out.push(this.ev(status === 'completed' ? 'response.completed' : 'response.incomplete', { response: this.envelope(status, this.usage) }));
    return out;
  }

  fail(error: ErrorBody): string[] {
    return [this.ev('error', { code: error.code, message: error.message, param: error.param ?? null })];
  }
}
