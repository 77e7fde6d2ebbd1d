import type { TokenUsage } from '@gateway/contracts';
import type { StreamEncoder, StreamFailure } from '../codec';
import { ZERO_USAGE, type IREvent, type IRRequest, type IRStopReason } from '../ir';
import { sseFrame } from '../sse/sse-parser';
import { signedToolId } from '../signatures';
import { FreeformInput, localShellAction } from './client-tools';
import { toResponsesError } from './errors';
import { callKind, reasoningItem, responseEnvelope, rid, type OutputCall, type OutputItem, type OutputMessage, type OutputReasoning } from './response';

/** A call being streamed: its item, the arguments so far, and for a freeform tool, its input read out of them. */
interface OpenCall {
  item: OutputCall;
  args: string;
  freeform?: FreeformInput;
}

/**
 * IR -> the Responses API's semantic events: response.created, response.in_progress, then per output item
 * output_item.added, its part/argument deltas and done events, output_item.done, and response.completed
 * (or response.incomplete) with the whole response and usage. Every event has a sequence_number.
 *
 * Thinking is a reasoning item, its text streamed as the item's summary (reasoning_summary_part.added,
 * reasoning_summary_text.delta… .done, reasoning_summary_part.done); a signed block ends its item, which
 * carries the block as encrypted_content when the client included it. A message or reasoning item ends
 * where another item begins.
 *
 * Parallel tool calls are open together, one output item each: every argument piece names its call's
 * output_index and item_id, so pieces interleaved upstream stay interleaved here, and the calls are done,
 * in output order, when the answer ends. A call of a custom tool is a custom_tool_call whose input streams
 * as custom_tool_call_input deltas; one of local_shell a local_shell_call, whole when it is done. A broken
 * stream ends with an `error` event and `response.failed`, whose response carries the error.
 */
export class ResponsesStreamEncoder implements StreamEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  private readonly id = rid('resp');
  private readonly createdAt = Math.floor(Date.now() / 1000);
  private seq = 0;
  private readonly output: OutputItem[] = [];
  private message: { item: OutputMessage; text: string } | null = null;
  private reasoning: { item: OutputReasoning; text: string; signature?: string } | null = null;
  private readonly calls = new Map<number, OpenCall>();
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

  private add(item: OutputItem): string {
    this.output.push(item);
    return this.ev('response.output_item.added', { output_index: this.output.length - 1, item: { ...item } });
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

  private openReasoning(): string[] {
    if (this.reasoning) return [];
    const out = this.closeMessage();
    const item: OutputReasoning = { type: 'reasoning', id: rid('rs'), summary: [] };
    this.reasoning = { item, text: '' };
    out.push(this.add(item));
    return out;
  }

  private closeReasoning(): string[] {
    const r = this.reasoning;
    if (!r) return [];
    this.reasoning = null;
    const output_index = this.output.indexOf(r.item);
    const where = { item_id: r.item.id, output_index, summary_index: 0 };
    const out: string[] = [];
    if (r.text) {
      out.push(this.ev('response.reasoning_summary_text.done', { ...where, text: r.text }));
      out.push(this.ev('response.reasoning_summary_part.done', { ...where, part: { type: 'summary_text', text: r.text } }));
    }
    Object.assign(r.item, reasoningItem(this.req, r.item.id, r.text, r.signature));
    out.push(this.ev('response.output_item.done', { output_index, item: r.item }));
    return out;
  }

  private thinking(text: string, signature: string | undefined): string[] {
    // thinking after a signed block is the next block
    const out = text && this.reasoning?.signature ? this.closeReasoning() : [];
    if (text || signature) out.push(...this.openReasoning());
    const r = this.reasoning;
    if (!r) return out;
    if (text) {
      const where = { item_id: r.item.id, output_index: this.output.indexOf(r.item), summary_index: 0 };
      if (!r.text) out.push(this.ev('response.reasoning_summary_part.added', { ...where, part: { type: 'summary_text', text: '' } }));
      r.text += text;
      out.push(this.ev('response.reasoning_summary_text.delta', { ...where, delta: text }));
    }
    if (signature) r.signature = signature;
    return out;
  }

  private openCall(ev: Extract<IREvent, { type: 'tool_call_start' }>): string[] {
    const out = [...this.closeMessage(), ...this.closeReasoning()];
    const call_id = signedToolId(ev.id, ev.signature);
    let call: OpenCall;
    switch (callKind(this.req, ev.name)) {
      case 'custom_tool_call':
        call = { item: { type: 'custom_tool_call', id: rid('ctc'), call_id, name: ev.name, input: '', status: 'in_progress' }, args: '', freeform: new FreeformInput() };
        break;
      case 'local_shell_call':
        call = { item: { type: 'local_shell_call', id: rid('lsh'), call_id, action: localShellAction(''), status: 'in_progress' }, args: '' };
        break;
      default:
        call = { item: { type: 'function_call', id: rid('fc'), call_id, name: ev.name, arguments: '', status: 'in_progress' }, args: '' };
    }
    this.calls.set(ev.index, call);
    out.push(this.add(call.item));
    return out;
  }

  private callArgs(call: OpenCall, delta: string): string[] {
    call.args += delta;
    const { item } = call;
    const where = { item_id: item.id, output_index: this.output.indexOf(item) };
    if (item.type === 'function_call') {
      item.arguments += delta;
      return [this.ev('response.function_call_arguments.delta', { ...where, delta })];
    }
    if (item.type === 'custom_tool_call') {
      const piece = call.freeform!.push(delta);
      item.input += piece;
      return piece ? [this.ev('response.custom_tool_call_input.delta', { ...where, delta: piece })] : [];
    }
    return []; // a local_shell_call has no deltas: its action goes out whole
  }

  private closeCall(call: OpenCall): string[] {
    const { item } = call;
    const output_index = this.output.indexOf(item);
    const where = { item_id: item.id, output_index };
    item.status = 'completed';
    const out: string[] = [];
    if (item.type === 'function_call') out.push(this.ev('response.function_call_arguments.done', { ...where, arguments: item.arguments }));
    else if (item.type === 'custom_tool_call') {
      const { input, rest } = call.freeform!.finish();
      if (rest) out.push(this.ev('response.custom_tool_call_input.delta', { ...where, delta: rest }));
      item.input = input;
      out.push(this.ev('response.custom_tool_call_input.done', { ...where, input }));
    } else item.action = localShellAction(call.args);
    out.push(this.ev('response.output_item.done', { output_index, item }));
    return out;
  }

  push(ev: IREvent): string[] {
    switch (ev.type) {
      case 'text': {
        const out = this.closeReasoning();
        if (!this.message) {
          const item: OutputMessage = { type: 'message', id: rid('msg'), status: 'in_progress', role: 'assistant', content: [] };
          this.message = { item, text: '' };
          const output_index = this.output.length;
          out.push(this.add(item));
          out.push(this.ev('response.content_part.added', { item_id: item.id, output_index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }));
        }
        const m = this.message!;
        m.text += ev.text;
        out.push(this.ev('response.output_text.delta', { item_id: m.item.id, output_index: this.output.indexOf(m.item), content_index: 0, delta: ev.text, logprobs: [] }));
        return out;
      }
      case 'thinking':
        return this.thinking(ev.text, ev.signature);
      case 'tool_call_start':
        return this.openCall(ev);
      case 'tool_call_args': {
        const call = this.calls.get(ev.index);
        if (!call || call.item.status !== 'in_progress') return [];
        return this.callArgs(call, ev.delta);
      }
      case 'finish':
        this.stop = ev.stop_reason;
        return [];
      case 'usage':
        this.usage = ev.usage;
        return [];
      default:
        return []; // start
    }
  }

  end(): string[] {
    const out: string[] = [];
    const open = [...this.calls.values()];
    for (const item of [...this.output]) {
      if (item.type === 'message') out.push(...(item === this.message?.item ? this.closeMessage() : []));
      else if (item.type === 'reasoning') out.push(...(item === this.reasoning?.item ? this.closeReasoning() : []));
      else {
        const call = open.find((c) => c.item === item);
        if (call && item.status === 'in_progress') out.push(...this.closeCall(call));
      }
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
