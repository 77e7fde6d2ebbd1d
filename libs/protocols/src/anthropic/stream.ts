import type { ErrorBody, TokenUsage } from '@gateway/contracts';
import { UpstreamStreamError, type StreamDecoder, type StreamEncoder } from '../codec';
import { ZERO_USAGE, type IREvent, type IRStopReason } from '../ir';
import { sseFrame, type SseEvent } from '../sse/sse-parser';
import { toAnthropicError } from './errors';
import { stopFromAnthropic, stopToAnthropic, usageFromAnthropic, usageToAnthropic, type AnthropicUsage } from './response';

interface AnthropicEvent {
  type: string;
  index?: number;
  message?: { id: string; model: string; usage?: AnthropicUsage };
  content_block?: { type: string; id?: string; name?: string; text?: string; thinking?: string };
  delta?: { type?: string; text?: string; partial_json?: string; thinking?: string; stop_reason?: string | null };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

/** Anthropic Messages stream events -> IR. Tool-call indexes count tool_use blocks from 0. */
export class AnthropicStreamDecoder implements StreamDecoder {
  private done = false;
  private usage: AnthropicUsage = {};
  private readonly blockToCall = new Map<number, number>();
  private calls = 0;

  push(ev: SseEvent): IREvent[] {
    const e = JSON.parse(ev.data) as AnthropicEvent;
    switch (e.type) {
      case 'message_start':
        this.usage = { ...(e.message?.usage ?? {}) };
        return [{ type: 'start', id: e.message?.id ?? '', model: e.message?.model ?? '' }];
      case 'content_block_start': {
        const b = e.content_block;
        if (b?.type === 'tool_use') {
          const index = this.calls++;
          this.blockToCall.set(e.index ?? 0, index);
          return [{ type: 'tool_call_start', index, id: b.id ?? '', name: b.name ?? '' }];
        }
        if (b?.type === 'text' && b.text) return [{ type: 'text', text: b.text }];
        return [];
      }
      case 'content_block_delta': {
        const d = e.delta;
        if (d?.type === 'text_delta' && d.text) return [{ type: 'text', text: d.text }];
        if (d?.type === 'thinking_delta' && d.thinking) return [{ type: 'thinking', text: d.thinking }];
        if (d?.type === 'input_json_delta' && d.partial_json) {
          return [{ type: 'tool_call_args', index: this.blockToCall.get(e.index ?? 0) ?? 0, delta: d.partial_json }];
        }
        return [];
      }
      case 'message_delta': {
        // message_delta carries cumulative counts; newer API versions repeat the input counts here too
        this.usage = { ...this.usage, ...Object.fromEntries(Object.entries(e.usage ?? {}).filter(([, v]) => v !== null && v !== undefined)) };
        const out: IREvent[] = [];
        if (e.delta?.stop_reason) out.push({ type: 'finish', stop_reason: stopFromAnthropic(e.delta.stop_reason) });
        out.push({ type: 'usage', usage: usageFromAnthropic(this.usage) });
        return out;
      }
      case 'message_stop':
        this.done = true;
        return [];
      case 'error':
        throw new UpstreamStreamError(e.error?.message ?? 'upstream stream error');
      default:
        return []; // ping, content_block_stop
    }
  }

  completed(): boolean {
    return this.done;
  }
}

type OpenBlock = { kind: 'text' | 'thinking' } | { kind: 'tool'; call: number };

/**
 * IR -> Anthropic's exact event sequence: message_start, then per block content_block_start / _delta /
 * _stop, then message_delta with stop reason and usage, then message_stop.
 */
export class AnthropicStreamEncoder implements StreamEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  private started = false;
  private block = -1;
  private open: OpenBlock | null = null;
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

  private closeBlock(): string[] {
    if (!this.open) return [];
    this.open = null;
    return [this.frame('content_block_stop', { index: this.block })];
  }

  private openBlock(open: OpenBlock, contentBlock: Record<string, unknown>): string[] {
    const out = this.closeBlock();
    this.block++;
    this.open = open;
    out.push(this.frame('content_block_start', { index: this.block, content_block: contentBlock }));
    return out;
  }

  push(ev: IREvent): string[] {
    switch (ev.type) {
      case 'start':
        return this.ensureStarted(ev.id || undefined);
      case 'text': {
        const out = this.ensureStarted();
        if (this.open?.kind !== 'text') out.push(...this.openBlock({ kind: 'text' }, { type: 'text', text: '' }));
        out.push(this.frame('content_block_delta', { index: this.block, delta: { type: 'text_delta', text: ev.text } }));
        return out;
      }
      case 'thinking': {
        const out = this.ensureStarted();
        if (this.open?.kind !== 'thinking') out.push(...this.openBlock({ kind: 'thinking' }, { type: 'thinking', thinking: '', signature: '' }));
        out.push(this.frame('content_block_delta', { index: this.block, delta: { type: 'thinking_delta', thinking: ev.text } }));
        return out;
      }
      case 'tool_call_start': {
        const out = this.ensureStarted();
        out.push(...this.openBlock({ kind: 'tool', call: ev.index }, { type: 'tool_use', id: ev.id, name: ev.name, input: {} }));
        return out;
      }
      case 'tool_call_args': {
        if (this.open?.kind !== 'tool' || this.open.call !== ev.index) return [];
        return [this.frame('content_block_delta', { index: this.block, delta: { type: 'input_json_delta', partial_json: ev.delta } })];
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
    const out = [...this.ensureStarted(), ...this.closeBlock()];
    out.push(this.frame('message_delta', { delta: { stop_reason: stopToAnthropic(this.stop), stop_sequence: null }, usage: usageToAnthropic(this.usage) }));
    out.push(this.frame('message_stop', {}));
    return out;
  }

  fail(error: ErrorBody): string[] {
    return [sseFrame(JSON.stringify(toAnthropicError(error).body), 'error')];
  }
}
