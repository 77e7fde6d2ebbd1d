import type { TokenUsage } from '@gateway/contracts';
import { UpstreamStreamError, type StreamDecoder, type UpstreamCodec } from '../codec';
import { ZERO_USAGE, type IREvent, type IRPart, type IRResponse, type IRStopReason } from '../ir';
import type { SseEvent } from '../sse/sse-parser';

// The Responses API spoken by the upstream itself (OpenAI's `/v1/responses`), for a Responses client whose
// body passes through: its answers and stream events read for what the gateway needs (usage, completion,
// the text produced), while the client gets them as the upstream sent them.

interface ResponsesUsage {
  input_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens?: number;
  output_tokens_details?: { reasoning_tokens?: number } | null;
}

interface OutputItem {
  type?: string;
  id?: string;
  call_id?: string;
  name?: string;
  arguments?: string;
  content?: Array<{ type?: string; text?: string; refusal?: string }>;
  summary?: Array<{ text?: string }>;
}

interface ResponseObject {
  id?: string;
  model?: string;
  status?: string;
  incomplete_details?: { reason?: string } | null;
  error?: { code?: string; message?: string } | null;
  output?: OutputItem[];
  usage?: ResponsesUsage | null;
}

/** Responses usage -> TokenUsage: input_tokens include the cached ones and output_tokens the reasoning ones, as in chat. */
export function usageFromResponses(u: ResponsesUsage | null | undefined): TokenUsage | null {
  if (!u || typeof u.input_tokens !== 'number' || typeof u.output_tokens !== 'number') return null;
  return {
    input_tokens: u.input_tokens,
    cached_input_tokens: u.input_tokens_details?.cached_tokens ?? 0,
    output_tokens: u.output_tokens,
    reasoning_tokens: u.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

function stopOf(r: ResponseObject): IRStopReason {
  if (r.status === 'incomplete') return r.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length';
  return (r.output ?? []).some((o) => o.type === 'function_call') ? 'tool_calls' : 'stop';
}

/** A Response object (the non-streamed answer) -> IR. */
export function responsesResponseToIR(body: unknown): IRResponse {
  const r = (body ?? {}) as ResponseObject;
  const parts: IRPart[] = [];
  for (const item of r.output ?? []) {
    if (item.type === 'message') {
      for (const c of item.content ?? []) {
        if (c.type === 'output_text') parts.push({ type: 'text', text: c.text ?? '' });
        else if (c.type === 'refusal') parts.push({ type: 'text', text: c.refusal ?? '' });
      }
    } else if (item.type === 'function_call') {
      parts.push({ type: 'tool_call', id: item.call_id ?? item.id ?? '', name: item.name ?? '', arguments: item.arguments ?? '' });
    } else if (item.type === 'reasoning') {
      const text = (item.summary ?? []).map((s) => s.text ?? '').join('');
      if (text) parts.push({ type: 'thinking', text });
    }
  }
  return { id: r.id ?? '', model: r.model ?? '', parts, stop_reason: stopOf(r), usage: usageFromResponses(r.usage) ?? { ...ZERO_USAGE } };
}

/**
 * The Responses API's semantic events -> IR: text and reasoning-summary deltas, function calls by output
 * index, and finish and usage from the terminal `response.completed` / `response.incomplete`. An `error`
 * event or `response.failed` is the upstream failing mid-stream.
 */
export class ResponsesStreamDecoder implements StreamDecoder {
  private done = false;

  push(ev: SseEvent): IREvent[] {
    const data = JSON.parse(ev.data) as {
      type?: string;
      response?: ResponseObject;
      delta?: string;
      output_index?: number;
      item?: OutputItem;
      message?: string;
      code?: string;
    };
    switch (data.type ?? ev.event) {
      case 'response.created':
        return [{ type: 'start', id: data.response?.id ?? '', model: data.response?.model ?? '' }];
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        return data.delta ? [{ type: 'text', text: data.delta }] : [];
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        return data.delta ? [{ type: 'thinking', text: data.delta }] : [];
      case 'response.output_item.added':
        if (data.item?.type !== 'function_call') return [];
        return [{ type: 'tool_call_start', index: data.output_index ?? 0, id: data.item.call_id ?? data.item.id ?? '', name: data.item.name ?? '' }];
      case 'response.function_call_arguments.delta':
        return data.delta ? [{ type: 'tool_call_args', index: data.output_index ?? 0, delta: data.delta }] : [];
      case 'response.completed':
      case 'response.incomplete': {
        this.done = true;
        const r = data.response ?? {};
        const usage = usageFromResponses(r.usage);
        return [{ type: 'finish', stop_reason: stopOf(r) }, ...(usage ? [{ type: 'usage' as const, usage }] : [])];
      }
      case 'response.failed':
        throw new UpstreamStreamError(data.response?.error?.message ?? 'the upstream response failed');
      case 'error':
        throw new UpstreamStreamError(data.message ?? data.code ?? 'upstream stream error');
      default:
        return [];
    }
  }

  completed(): boolean {
    return this.done;
  }
}

/** How an OpenAI channel is spoken to when a Responses body passes through: its `/responses` route. */
export const responsesUpstreamWire: Pick<UpstreamCodec, 'path' | 'decodeResponse' | 'streamDecoder'> = {
  path: () => '/responses',
  decodeResponse: responsesResponseToIR,
  streamDecoder: () => new ResponsesStreamDecoder(),
};
