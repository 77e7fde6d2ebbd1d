// The parts of OpenAI's Chat Completions API the gateway reads; everything else passes through untouched.

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

export interface OpenAIChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: unknown;
  tool_call_id?: string;
}

export interface OpenAIChatRequest {
  model: string;
  messages: OpenAIChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  n?: number | null;
  tools?: unknown[] | null;
  [k: string]: unknown;
}

export interface OpenAIChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  choices: Array<{ index: number; delta: { content?: string | null; [k: string]: unknown }; logprobs?: unknown; finish_reason: string | null }>;
  usage?: OpenAIUsage | null;
  [k: string]: unknown;
}

export interface OpenAIChatCompletion {
  id: string;
  object: 'chat.completion';
  choices: Array<{ index: number; message: { role: string; content: string | null; [k: string]: unknown }; logprobs?: unknown; finish_reason: string | null }>;
  usage?: OpenAIUsage;
  [k: string]: unknown;
}
