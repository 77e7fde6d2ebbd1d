import type { TokenUsage } from '@gateway/contracts';
import type { IRPart, IRResponse, IRStopReason } from '../ir';
import { signedToolId } from '../signatures';
import { JSON_TOOL, parseArgs } from './request';

export interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  /** the cache writes by TTL (their sum is cache_creation_input_tokens) */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
  server_tool_use?: { web_search_requests?: number | null; web_fetch_requests?: number | null } | null;
}

/**
 * Anthropic's input_tokens exclude cache reads and writes; the IR's input counts every prompt token. Writes
 * are split by TTL when the upstream says so, else all count as 5-minute writes. Thinking tokens are inside
 * output_tokens (Anthropic does not report them apart).
 */
export function usageFromAnthropic(u: AnthropicUsage | undefined): TokenUsage {
  const cached = u?.cache_read_input_tokens ?? 0;
  const writes = u?.cache_creation_input_tokens ?? 0;
  const w1h = Math.min(writes, u?.cache_creation?.ephemeral_1h_input_tokens ?? 0);
  const usage: TokenUsage = {
    input_tokens: (u?.input_tokens ?? 0) + cached + writes,
    cached_input_tokens: cached,
    output_tokens: u?.output_tokens ?? 0,
    reasoning_tokens: 0,
  };
  if (writes > 0) {
    usage.cache_write_tokens = writes - w1h;
    usage.cache_write_1h_tokens = w1h;
  }
  const searches = u?.server_tool_use?.web_search_requests ?? 0;
  if (searches > 0) usage.web_searches = searches;
  return usage;
}

export function usageToAnthropic(u: TokenUsage): { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number } {
  const writes = (u.cache_write_tokens ?? 0) + (u.cache_write_1h_tokens ?? 0);
  return {
    input_tokens: u.input_tokens - u.cached_input_tokens - writes,
    output_tokens: u.output_tokens,
    cache_read_input_tokens: u.cached_input_tokens,
    cache_creation_input_tokens: writes,
  };
}

const FROM: Record<string, IRStopReason> = {
  end_turn: 'stop',
  max_tokens: 'length',
  stop_sequence: 'stop_sequence',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  pause_turn: 'stop',
};

export function stopFromAnthropic(r: string | null | undefined): IRStopReason {
  return FROM[r ?? 'end_turn'] ?? 'stop';
}

export function stopToAnthropic(r: IRStopReason): string {
  switch (r) {
    case 'stop':
      return 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'stop_sequence':
      return 'stop_sequence';
    case 'content_filter':
      return 'refusal';
  }
}

interface MessageBody {
  id: string;
  model: string;
  content: Array<{ type: string; text?: string; id?: string; name?: string; input?: unknown; thinking?: string; signature?: string }>;
  stop_reason: string | null;
  usage: AnthropicUsage;
}

export function messageToIR(body: unknown): IRResponse {
  const b = body as MessageBody;
  const parts: IRPart[] = [];
  for (const c of b.content ?? []) {
    if (c.type === 'text') parts.push({ type: 'text', text: c.text ?? '' });
    // JSON mode asked for as a forced tool: its input is the answer
    else if (c.type === 'tool_use' && c.name === JSON_TOOL) parts.push({ type: 'text', text: JSON.stringify(c.input ?? {}) });
    else if (c.type === 'tool_use') parts.push({ type: 'tool_call', id: c.id ?? '', name: c.name ?? '', arguments: JSON.stringify(c.input ?? {}) });
    else if (c.type === 'thinking') parts.push({ type: 'thinking', text: c.thinking ?? '', signature: c.signature });
  }
  const stop = stopFromAnthropic(b.stop_reason);
  const calls = parts.some((p) => p.type === 'tool_call');
  return { id: b.id, model: b.model, parts, stop_reason: stop === 'tool_calls' && !calls ? 'stop' : stop, usage: usageFromAnthropic(b.usage) };
}

export function irToMessage(ir: IRResponse, model: string): Record<string, unknown> {
  const content = ir.parts
    .map((p) => {
      switch (p.type) {
        case 'text':
          return { type: 'text', text: p.text };
        case 'tool_call':
          return { type: 'tool_use', id: signedToolId(p.id, p.signature), name: p.name, input: safeArgs(p.arguments) };
        case 'thinking':
          return { type: 'thinking', thinking: p.text, signature: p.signature ?? '' };
        default:
          return null;
      }
    })
    .filter((c) => c !== null);
  return {
    id: ir.id.startsWith('msg_') ? ir.id : `msg_${ir.id}`,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopToAnthropic(ir.stop_reason),
    stop_sequence: null,
    usage: usageToAnthropic(ir.usage),
  };
}

export function safeArgs(args: string): Record<string, unknown> {
  try {
    return parseArgs(args);
  } catch {
    return { _raw: args };
  }
}
