import type { TokenUsage } from '@gateway/contracts';
import type { OpenAIUsage } from './types';

export function usageFromOpenAI(u: OpenAIUsage | null | undefined): TokenUsage | null {
  if (!u || typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') return null;
  return {
    input_tokens: u.prompt_tokens,
    cached_input_tokens: u.prompt_tokens_details?.cached_tokens ?? 0,
    output_tokens: u.completion_tokens,
    reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}
