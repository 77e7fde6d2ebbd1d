import type { TokenUsage } from '@gateway/contracts';
import { UpstreamStreamError, type StreamDecoder, type StreamEncoder, type StreamFailure } from '../codec';
import { ZERO_USAGE, type IREvent, type IRLogprob, type IRStopReason } from '../ir';
import { safeArgs } from '../anthropic/response';
import { geminiErrorKind, toGeminiStreamError } from './errors';
import { logprobsFromGemini, logprobsToGemini, searchesOf, stopFromGemini, stopToGemini, usageFromGemini, usageToGemini, withSearches, type GeminiChunk, type GeminiPartOut } from './response';
import type { SseEvent } from '../sse/sse-parser';

/** Gemini streamGenerateContent (alt=sse) chunks -> IR. A chunk with a finishReason ends the stream. */
export class GeminiStreamDecoder implements StreamDecoder {
  private started = false;
  private done = false;
  private calls = 0;
  private finish: string | undefined;
  private searches = 0;

  push(ev: SseEvent): IREvent[] {
    const chunk = JSON.parse(ev.data) as GeminiChunk;
    if (chunk.error) throw new UpstreamStreamError(chunk.error.message ?? 'upstream stream error', geminiErrorKind(chunk.error as { code?: unknown; status?: unknown }));
    const out: IREvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: 'start', id: chunk.responseId ?? '', model: chunk.modelVersion ?? '' });
    }
    const cand = chunk.candidates?.[0];
    // a chunk's log probabilities go with its text
    let logprobs = logprobsFromGemini(cand?.logprobsResult);
    for (const p of cand?.content?.parts ?? []) {
      if (p.functionCall) {
        const index = this.calls++;
        const id = p.functionCall.id ?? `call_${index}_${p.functionCall.name}`;
        out.push({ type: 'tool_call_start', index, id, name: p.functionCall.name, ...(p.thoughtSignature ? { signature: p.thoughtSignature } : {}) });
        out.push({ type: 'tool_call_args', index, delta: JSON.stringify(p.functionCall.args ?? {}) });
      } else if (typeof p.text === 'string' && p.text) {
        if (p.thought) out.push({ type: 'thinking', text: p.text });
        else {
          out.push({ type: 'text', text: p.text, ...(logprobs?.length ? { logprobs } : {}) });
          logprobs = undefined;
        }
      }
    }
    if (logprobs?.length) out.push({ type: 'text', text: '', logprobs });
    if (cand?.finishReason) {
      this.finish = cand.finishReason;
      this.done = true;
      out.push({ type: 'finish', stop_reason: stopFromGemini(this.finish, this.calls > 0) });
    }
    this.searches = Math.max(this.searches, searchesOf(chunk));
    if (chunk.usageMetadata) out.push({ type: 'usage', usage: withSearches(usageFromGemini(chunk.usageMetadata), this.searches) });
    return out;
  }

  completed(): boolean {
    return this.done;
  }
}

/**
 * IR -> Gemini stream chunks, as SSE (`?alt=sse`) or as one JSON array written piece by piece.
 * Gemini sends a function call whole, so streamed arguments are gathered and sent in one chunk.
 */
export class GeminiStreamEncoder implements StreamEncoder {
  readonly contentType: string;
  private id = '';
  private count = 0;
  private stop: IRStopReason = 'stop';
  private usage: TokenUsage = { ...ZERO_USAGE };
  private readonly calls = new Map<number, { id: string; name: string; args: string; signature?: string }>();

  constructor(
    private readonly model: string,
    private readonly sse: boolean,
  ) {
    this.contentType = sse ? 'text/event-stream; charset=utf-8' : 'application/json; charset=utf-8';
  }

  begin(): string[] {
    return this.sse ? [] : ['['];
  }

  private emit(chunk: GeminiChunk): string {
    const json = JSON.stringify(chunk);
    if (this.sse) return `data: ${json}\r\n\r\n`;
    return `${this.count++ === 0 ? '' : ',\r\n'}${json}`;
  }

  private chunk(parts: GeminiPartOut[], final = false, logprobs?: IRLogprob[]): string {
    const c: GeminiChunk = {
      candidates: [{ content: { parts, role: 'model' }, ...(final ? { finishReason: stopToGemini(this.stop) } : {}), index: 0, ...(logprobs ? { logprobsResult: logprobsToGemini(logprobs) } : {}) }],
      ...(final ? { usageMetadata: usageToGemini(this.usage) } : {}),
      modelVersion: this.model,
      responseId: this.id,
    };
    return this.emit(c);
  }

  push(ev: IREvent): string[] {
    switch (ev.type) {
      case 'start':
        this.id = ev.id;
        return [];
      case 'text':
        return [this.chunk([{ text: ev.text }], false, ev.logprobs)];
      case 'thinking':
        return ev.text ? [this.chunk([{ text: ev.text, thought: true }])] : [];
      case 'tool_call_start':
        this.calls.set(ev.index, { id: ev.id, name: ev.name, args: '', signature: ev.signature });
        return [];
      case 'tool_call_args': {
        const c = this.calls.get(ev.index);
        if (c) c.args += ev.delta;
        return [];
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
    const parts: GeminiPartOut[] = [...this.calls.values()].map((c) => ({ functionCall: { id: c.id, name: c.name, args: safeArgs(c.args) }, ...(c.signature ? { thoughtSignature: c.signature } : {}) }));
    const out = [this.chunk(parts.length ? parts : [{ text: '' }], true)];
    if (!this.sse) out.push(']');
    return out;
  }

  fail(error: StreamFailure): string[] {
    const body = toGeminiStreamError(error);
    if (this.sse) return [`data: ${JSON.stringify(body)}\r\n\r\n`];
    return [`${this.count++ === 0 ? '' : ',\r\n'}${JSON.stringify(body)}]`];
  }
}
