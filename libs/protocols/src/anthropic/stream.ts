import type { TokenUsage } from '@gateway/contracts';
import { UpstreamStreamError, type StreamDecoder, type StreamEncoder, type StreamFailure } from '../codec';
import { ZERO_USAGE, type IREvent, type IRStopReason } from '../ir';
import { sseFrame, type SseEvent } from '../sse/sse-parser';
import { signedToolId } from '../signatures';
import { anthropicErrorKind, toAnthropicStreamError } from './errors';
import { stopFromAnthropic, stopToAnthropic, usageFromAnthropic, usageToAnthropic, type AnthropicUsage } from './response';
import { JSON_TOOL } from './request';

interface AnthropicEvent {
  type: string;
  index?: number;
  message?: { id: string; model: string; usage?: AnthropicUsage };
  content_block?: { type: string; id?: string; name?: string; text?: string; thinking?: string; input?: unknown };
  delta?: { type?: string; text?: string; partial_json?: string; thinking?: string; signature?: string; stop_reason?: string | null };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

/**
 * Anthropic Messages stream events -> IR. Tool-call indexes count tool_use blocks from 0. A tool_use block
 * that streamed no input (a tool without parameters) gets its start input, `{}`, as its arguments when it
 * stops, so that every style's client receives a JSON object rather than an empty string.
 */
export class AnthropicStreamDecoder implements StreamDecoder {
  private done = false;
  private usage: AnthropicUsage = {};
  private readonly blockToCall = new Map<number, { index: number; input: unknown; args: boolean }>();
  /** blocks of the forced JSON_TOOL (JSON mode): their input streams as the answer's text */
  private readonly jsonBlocks = new Map<number, { input: unknown; args: boolean }>();
  private calls = 0;

  push(ev: SseEvent): IREvent[] {
    const e = JSON.parse(ev.data) as AnthropicEvent;
    switch (e.type) {
      case 'message_start':
        this.usage = { ...(e.message?.usage ?? {}) };
        return [{ type: 'start', id: e.message?.id ?? '', model: e.message?.model ?? '' }];
      case 'content_block_start': {
        const b = e.content_block;
        if (b?.type === 'tool_use' && b.name === JSON_TOOL) {
          this.jsonBlocks.set(e.index ?? 0, { input: b.input ?? {}, args: false });
          return [];
        }
        if (b?.type === 'tool_use') {
          const index = this.calls++;
          this.blockToCall.set(e.index ?? 0, { index, input: b.input ?? {}, args: false });
          return [{ type: 'tool_call_start', index, id: b.id ?? '', name: b.name ?? '' }];
        }
        if (b?.type === 'text' && b.text) return [{ type: 'text', text: b.text }];
        return [];
      }
      case 'content_block_delta': {
        const d = e.delta;
        if (d?.type === 'text_delta' && d.text) return [{ type: 'text', text: d.text }];
        if (d?.type === 'thinking_delta' && d.thinking) return [{ type: 'thinking', text: d.thinking }];
        // the block's signature, which Anthropic needs back with it on a later turn of a tool loop
        if (d?.type === 'signature_delta' && d.signature) return [{ type: 'thinking', text: '', signature: d.signature }];
        const json = this.jsonBlocks.get(e.index ?? 0);
        if (d?.type === 'input_json_delta' && d.partial_json && json) {
          json.args = true;
          return [{ type: 'text', text: d.partial_json }];
        }
        const call = this.blockToCall.get(e.index ?? 0);
        if (d?.type === 'input_json_delta' && d.partial_json && call) {
          call.args = true;
          return [{ type: 'tool_call_args', index: call.index, delta: d.partial_json }];
        }
        return [];
      }
      case 'content_block_stop': {
        const json = this.jsonBlocks.get(e.index ?? 0);
        if (json && !json.args) {
          json.args = true;
          return [{ type: 'text', text: JSON.stringify(json.input) }];
        }
        const call = this.blockToCall.get(e.index ?? 0);
        if (!call || call.args) return [];
        call.args = true;
        return [{ type: 'tool_call_args', index: call.index, delta: JSON.stringify(call.input) }];
      }
      case 'message_delta': {
        // message_delta carries cumulative counts; newer API versions repeat the input counts here too
        this.usage = { ...this.usage, ...Object.fromEntries(Object.entries(e.usage ?? {}).filter(([, v]) => v !== null && v !== undefined)) };
        const out: IREvent[] = [];
        if (e.delta?.stop_reason) {
          const stop = stopFromAnthropic(e.delta.stop_reason);
          // the forced JSON tool's call is the answer, not a call for the client
          out.push({ type: 'finish', stop_reason: stop === 'tool_calls' && this.calls === 0 ? 'stop' : stop });
        }
        out.push({ type: 'usage', usage: usageFromAnthropic(this.usage) });
        return out;
      }
      case 'message_stop':
        this.done = true;
        return [];
      case 'error':
        throw new UpstreamStreamError(e.error?.message ?? 'upstream stream error', anthropicErrorKind(e.error?.type));
      default:
        return []; // ping
    }
  }

  completed(): boolean {
    return this.done;
  }
}

/** A content block of the client's stream; while queued it gathers what it will send when opened. */
type Block = { kind: 'text' | 'thinking'; text: string } | { kind: 'tool'; id: string; name: string; args: string; state: 'queued' | 'open' | 'closed' };
type ToolBlock = Extract<Block, { kind: 'tool' }>;

/** The arguments are one whole JSON object: nothing valid can follow, so the call's block may close. */
function wholeObject(args: string): boolean {
  if (!args.trimEnd().endsWith('}')) return false;
  try {
    const v = JSON.parse(args) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * IR -> Anthropic's exact event sequence: message_start, then per block content_block_start / _delta /
 * _stop, then message_delta with stop reason and usage, then message_stop.
 *
 * Anthropic blocks follow one another, but an OpenAI-type upstream streams parallel tool calls with their
 * argument pieces interleaved. So one block is open at a time and streams live; a call (or text) that
 * arrives while a tool block is open is queued, and the pieces of queued calls are gathered. The open tool
 * block closes once its arguments are one whole JSON object (nothing valid can follow it) and something is
 * waiting; then the queue drains in arrival order, each block sent with what it gathered, closed when it is
 * complete too, the last one left open to stream live. Whatever is still open or queued goes out, in order,
 * at the end. Every call thus reaches the client whole, in its own block.
 */
export class AnthropicStreamEncoder implements StreamEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  private started = false;
  private block = -1;
  private open: Block | null = null;
  private readonly queue: Block[] = [];
  private readonly calls = new Map<number, ToolBlock>();
  private stop: IRStopReason = 'stop';
  private usage: TokenUsage = { ...ZERO_USAGE };

  constructor(private readonly model: string) {}

  begin(): string[] {
    return [];
  }

  private frame(type: string, data: Record<string, unknown>): string {
    return sseFrame(JSON.stringify({ type, ...data }), type);
  }

  private ensureStarted(id = `msg_${Date.now().toString(36)}`): string[] {
    if (this.started) return [];
    this.started = true;
    return [
      this.frame('message_start', {
        message: {
          id: id.startsWith('msg_') ? id : `msg_${id}`,
          type: 'message',
          role: 'assistant',
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      }),
      this.frame('ping', {}),
    ];
  }

  private delta(b: Block, piece: string): string {
    const delta = b.kind === 'text' ? { type: 'text_delta', text: piece } : b.kind === 'thinking' ? { type: 'thinking_delta', thinking: piece } : { type: 'input_json_delta', partial_json: piece };
    return this.frame('content_block_delta', { index: this.block, delta });
  }

  private closeBlock(): string[] {
    const b = this.open;
    if (!b) return [];
    this.open = null;
    if (b.kind === 'tool') b.state = 'closed';
    return [this.frame('content_block_stop', { index: this.block })];
  }

  /** Opens b after the open block, with whatever it gathered while queued. */
  private openBlock(b: Block): string[] {
    const out = this.closeBlock();
    this.block++;
    this.open = b;
    const contentBlock = b.kind === 'tool' ? { type: 'tool_use', id: b.id, name: b.name, input: {} } : b.kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    out.push(this.frame('content_block_start', { index: this.block, content_block: contentBlock }));
    const gathered = b.kind === 'tool' ? b.args : b.text;
    if (b.kind === 'tool') b.state = 'open';
    if (gathered) out.push(this.delta(b, gathered));
    return out;
  }

  /** The open block may give way: a text or thinking block whenever something follows, a tool once its arguments are whole. */
  private openIsDone(): boolean {
    const b = this.open;
    return !b || b.kind !== 'tool' || wholeObject(b.args);
  }

  /** Sends queued blocks while the one before each is done; with `all`, everything (the stream is over). */
  private drain(all = false): string[] {
    const out: string[] = [];
    while (this.queue.length && (all || this.openIsDone())) out.push(...this.openBlock(this.queue.shift()!));
    return out;
  }

  /** A new block: opened now unless a tool block still taking arguments holds the stream, then queued. */
  private add(b: Block): string[] {
    if (this.queue.length || !this.openIsDone()) {
      this.queue.push(b);
      return this.drain();
    }
    return this.openBlock(b);
  }

  private content(kind: 'text' | 'thinking', piece: string): string[] {
    const out = this.ensureStarted();
    if (this.open?.kind === kind && !this.queue.length) {
      out.push(this.delta(this.open, piece));
      return out;
    }
    const last = this.queue[this.queue.length - 1];
    if (last?.kind === kind) last.text += piece;
    else out.push(...this.add({ kind, text: piece }));
    return out;
  }

  push(ev: IREvent): string[] {
    switch (ev.type) {
      case 'start':
        return this.ensureStarted(ev.id || undefined);
      case 'text':
        return this.content('text', ev.text);
      case 'thinking':
        return ev.text ? this.content('thinking', ev.text) : [];
      case 'tool_call_start': {
        const b: ToolBlock = { kind: 'tool', id: signedToolId(ev.id, ev.signature), name: ev.name, args: '', state: 'queued' };
        this.calls.set(ev.index, b);
        return [...this.ensureStarted(), ...this.add(b)];
      }
      case 'tool_call_args': {
        const b = this.calls.get(ev.index);
        // a closed call had whole arguments: anything after them could only be whitespace or invalid
        if (!b || b.state === 'closed') return [];
        b.args += ev.delta;
        if (b.state === 'queued') return [];
        return [this.delta(b, ev.delta), ...(this.queue.length ? this.drain() : [])];
      }
      case 'finish':
        this.stop = ev.stop_reason;
        return [];
      case 'usage':
        this.usage = ev.usage;
        return [];
    }
  }

  end(): string[] {
    const out = [...this.ensureStarted(), ...this.drain(true), ...this.closeBlock()];
    out.push(this.frame('message_delta', { delta: { stop_reason: stopToAnthropic(this.stop), stop_sequence: null }, usage: usageToAnthropic(this.usage) }));
    out.push(this.frame('message_stop', {}));
    return out;
  }

  fail(error: StreamFailure): string[] {
    return [sseFrame(JSON.stringify(toAnthropicStreamError(error)), 'error')];
  }
}
