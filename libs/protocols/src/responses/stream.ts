import type { TokenUsage } from '@gateway/contracts';
import type { StreamEncoder, StreamFailure } from '../codec';
import { ZERO_USAGE, type IREvent, type IRRequest, type IRStopReason } from '../ir';
import { sseFrame } from '../sse/sse-parser';
import { signedToolId } from '../signatures';
import { toResponsesError } from './errors';
import { responseEnvelope, rid, type OutputFunctionCall, type OutputMessage } from './response';

/**
 * IR -> the Responses API's semantic events: response.created, response.in_progress, then per output item
 * output_item.added, its part/argument deltas and done events, output_item.done, and response.completed
 * (or response.incomplete) with the whole response and usage. Every event has a sequence_number.
 *
 * Parallel function calls are open together, one output item each: every argument piece names its call's
 * output_index and item_id, so pieces interleaved upstream stay interleaved here, and the calls are done,
 * in output order, when the answer ends. A message item ends where a call begins. A broken stream ends with
 * an `error` event and `response.failed`, whose response carries the error.
 */
export class ResponsesStreamEncoder implements StreamEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  private readonly id = rid('resp');
  private readonly createdAt = Math.floor(Date.now() / 1000);
  private seq = 0;
  private readonly output: Array<OutputMessage | OutputFunctionCall> = [];
  private message: { item: OutputMessage; text: string } | null = null;
  private readonly calls = new Map<number, OutputFunctionCall>();
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

  private closeMessage(): string[] {
    const m = this.message;
    if (!m) return [];
    this.message = null;
    const output_index = this.output.indexOf(m.item);
    const part = { type: 'output_text' as const, text: m.text, annotations: [] };
    m.item.content = [part];
    m.item.status = 'completed';
    return [
      this.ev('response.output_text.done', { item_id: m.item.id, output_index, content_index: 0, text: m.text, logprobs: [] }),
      this.ev('response.content_part.done', { item_id: m.item.id, output_index, content_index: 0, part }),
      this.ev('response.output_item.done', { output_index, item: m.item }),
    ];
  }

  private closeCall(item: OutputFunctionCall): string[] {
    const output_index = this.output.indexOf(item);
    item.status = 'completed';
    return [
      this.ev('response.function_call_arguments.done', { item_id: item.id, output_index, arguments: item.arguments }),
      this.ev('response.output_item.done', { output_index, item }),
    ];
  }

  push(ev: IREvent): string[] {
    switch (ev.type) {
      case 'text': {
        const out: string[] = [];
        if (!this.message) {
          const item: OutputMessage = { type: 'message', id: rid('msg'), status: 'in_progress', role: 'assistant', content: [] };
          this.output.push(item);
          this.message = { item, text: '' };
          const output_index = this.output.length - 1;
          out.push(this.ev('response.output_item.added', { output_index, item: { ...item, content: [] } }));
          out.push(this.ev('response.content_part.added', { item_id: item.id, output_index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }));
        }
        const m = this.message!;
        m.text += ev.text;
        out.push(this.ev('response.output_text.delta', { item_id: m.item.id, output_index: this.output.indexOf(m.item), content_index: 0, delta: ev.text, logprobs: [] }));
        return out;
      }
      case 'tool_call_start': {
        const out = this.closeMessage();
        const item: OutputFunctionCall = { type: 'function_call', id: rid('fc'), call_id: signedToolId(ev.id, ev.signature), name: ev.name, arguments: '', status: 'in_progress' };
        this.output.push(item);
        this.calls.set(ev.index, item);
        out.push(this.ev('response.output_item.added', { output_index: this.output.length - 1, item: { ...item } }));
        return out;
      }
      case 'tool_call_args': {
        const item = this.calls.get(ev.index);
        if (!item || item.status !== 'in_progress') return [];
        item.arguments += ev.delta;
        return [this.ev('response.function_call_arguments.delta', { item_id: item.id, output_index: this.output.indexOf(item), delta: ev.delta })];
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
    const out: string[] = [];
    for (const item of [...this.output]) {
      if (item.status !== 'in_progress') continue;
      out.push(...(item.type === 'message' ? this.closeMessage() : this.closeCall(item)));
    }
    const status = this.stop === 'length' ? 'incomplete' : 'completed';
    out.push(this.ev(status === 'completed' ? 'response.completed' : 'response.incomplete', { response: this.envelope(status, this.usage) }));
    return out;
  }

  /** The `error` event, then `response.failed`: the terminal event SDKs and agents (Codex) wait for. */
  fail(error: StreamFailure): string[] {
    const e = toResponsesError(error);
    return [
      this.ev('error', { code: e.code, message: e.message, param: error.param ?? null }),
      this.ev('response.failed', { response: { ...this.envelope('failed', null), error: e } }),
    ];
  }
}
