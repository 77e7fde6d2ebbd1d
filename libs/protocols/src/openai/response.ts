import type { TokenUsage } from '@gateway/contracts';
import { ZERO_USAGE, type IRLogprob, type IRPart, type IRResponse, type IRStopReason } from '../ir';
import { signedToolId } from '../signatures';
import type { OpenAIChatCompletion, OpenAIUsage } from './types';

export function usageFromOpenAI(u: OpenAIUsage | null | undefined): TokenUsage | null {
  if (!u || typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') return null;
  return {
    input_tokens: u.prompt_tokens,
    cached_input_tokens: u.prompt_tokens_details?.cached_tokens ?? 0,
    output_tokens: u.completion_tokens,
    reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

export function usageToOpenAI(u: TokenUsage): Required<Pick<OpenAIUsage, 'prompt_tokens' | 'completion_tokens' | 'total_tokens'>> & OpenAIUsage {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_input_tokens },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens },
  };
}

const FROM_FINISH: Record<string, IRStopReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

export function stopFromOpenAI(reason: string | null | undefined): IRStopReason {
  return FROM_FINISH[reason ?? 'stop'] ?? 'stop';
}

export function stopToOpenAI(reason: IRStopReason): string {
  return reason === 'stop_sequence' ? 'stop' : reason;
}

interface ChatLogprob {
  token?: string;
  logprob?: number;
  top_logprobs?: Array<{ token?: string; logprob?: number }>;
}

/** A choice's `logprobs.content`, the log probability of each token with its alternatives. */
export function logprobsFromOpenAI(l: unknown): IRLogprob[] | undefined {
  const content = (l as { content?: ChatLogprob[] | null } | null | undefined)?.content;
  if (!Array.isArray(content)) return undefined;
  return content.map((c) => ({
    token: c.token ?? '',
    logprob: c.logprob ?? 0,
    ...(c.top_logprobs?.length ? { top: c.top_logprobs.map((t) => ({ token: t.token ?? '', logprob: t.logprob ?? 0 })) } : {}),
  }));
}

const bytesOf = (token: string): number[] => [...Buffer.from(token, 'utf8')];

export function logprobsToOpenAI(items: IRLogprob[]): { content: unknown[]; refusal: null } {
  return {
    content: items.map((i) => ({ token: i.token, logprob: i.logprob, bytes: bytesOf(i.token), top_logprobs: (i.top ?? []).map((t) => ({ token: t.token, logprob: t.logprob, bytes: bytesOf(t.token) })) })),
    refusal: null,
  };
}

interface ChatMessageOut {
  content?: string | null;
  reasoning_content?: string | null;
  tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
}

export function chatResponseToIR(body: unknown): IRResponse {
  const b = body as OpenAIChatCompletion;
  const choice = b.choices?.[0];
  const msg = (choice?.message ?? {}) as ChatMessageOut;
  const parts: IRPart[] = [];
  if (msg.reasoning_content) parts.push({ type: 'thinking', text: msg.reasoning_content });
  if (msg.content) parts.push({ type: 'text', text: msg.content });
  for (const c of msg.tool_calls ?? []) parts.push({ type: 'tool_call', id: c.id, name: c.function.name, arguments: c.function.arguments });
  const logprobs = logprobsFromOpenAI(choice?.logprobs);
  return {
    ...(logprobs ? { logprobs } : {}),
    id: b.id,
    model: (b.model as string) ?? '',
    parts,
    stop_reason: stopFromOpenAI(choice?.finish_reason),
    usage: usageFromOpenAI(b.usage) ?? { ...ZERO_USAGE },
  };
}

export function irToChatResponse(ir: IRResponse, model: string): Record<string, unknown> {
  const text = ir.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
  const calls = ir.parts.filter((p): p is Extract<IRPart, { type: 'tool_call' }> => p.type === 'tool_call');
  const reasoning = ir.parts.filter((p) => p.type === 'thinking').map((p) => (p as { text: string }).text).join('');
  return {
    id: ir.id.startsWith('chatcmpl-') ? ir.id : `chatcmpl-${ir.id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || (calls.length ? null : ''),
          refusal: null,
          ...(reasoning ? { reasoning_content: reasoning } : {}),
          ...(calls.length ? { tool_calls: calls.map((c) => ({ id: signedToolId(c.id, c.signature), type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
        },
        logprobs: ir.logprobs ? logprobsToOpenAI(ir.logprobs) : null,
        finish_reason: stopToOpenAI(ir.stop_reason),
      },
    ],
    usage: usageToOpenAI(ir.usage),
  };
}
